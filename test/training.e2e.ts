import { createTrainingEngine } from '@nnq/engine-onnx';
import { parseRunConfig, trainLocal } from '@nnq/training';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TestCluster } from './support/cluster';
import { getJson, stopApp, until } from './support/processes';
import { exampleConfig, modelParams, submitRun, waitForRun } from './support/runs';

// The system's signature: the final weights are a function of the config and seed alone.
describe('synchronous training on a cluster of worker processes', () => {
  const redisUrl = inject('redisUrl');
  const cluster = new TestCluster(redisUrl, 'train');
  const { prefix, workers } = cluster;
  let base = '';
  // two spirals, 4 shards per step, 5 epochs: small enough to run four times
  const equivalence = { ...exampleConfig('spirals.json'), name: 'equivalence', epochs: 5 };
  let inProcess: Buffer = Buffer.alloc(0);

  const addWorker = async () => {
    await cluster.addWorker();
    await cluster.waitForWorkers(workers.length);
  };

  beforeAll(async () => {
    await cluster.startCoordinator();
    base = cluster.base;
    const local = await trainLocal(parseRunConfig(equivalence), { engine: createTrainingEngine });
    inProcess = Buffer.from(local.params.buffer);
  });

  afterAll(() => cluster.stop());

  // each step strategy side by side (the default picks central here; sliced: reduce jobs on the
  // workers; replicated: every worker updates its own copy)
  const strategies: Record<string, Record<string, unknown>> = {
    default: {},
    sliced: { reduce: { slices: 2, sliceAbove: 0 } },
    replicated: { reduce: { strategy: 'replicated' } },
  };
  it.each([1, 2, 3])('gives the in-process weights bit for bit with %i worker(s), each step strategy', async (n) => {
    while (workers.length < n) await addWorker();
    const named = Object.entries(strategies);
    const runs = await Promise.all(named.map(([s, extra]) => submitRun(base, { ...equivalence, ...extra, name: s })));
    const ended = await Promise.all(
      runs.map(async (r, i) => {
        const done = await waitForRun(base, r.id);
        const same = done.state === 'completed' && (await modelParams(base, r.id)).equals(inProcess);
        return [named[i][0], done.state, same];
      }),
    );
    expect(ended).toEqual(named.map(([s]) => [s, 'completed', true]));
  });

  it('trains XOR and two spirals to their targets on two workers', async () => {
    while (workers.length > 2) await stopApp(workers.pop()!);
    const [xor, spirals] = await Promise.all([
      submitRun(base, exampleConfig('xor.json')),
      submitRun(base, exampleConfig('spirals.json')),
    ]);
    // 102-140 s on a loaded 2-core machine (both runs share the two workers): limits with room
    const [x, s] = await Promise.all([waitForRun(base, xor.id, 330_000), waitForRun(base, spirals.id, 330_000)]);
    expect(x.state).toBe('completed');
    expect(x.loss!).toBeLessThan(1e-3);
    expect(s.state).toBe('completed');
    expect(s.validation!.accuracy).toBeGreaterThanOrEqual(0.95);
    expect(s.test!.accuracy).toBeGreaterThanOrEqual(0.95);
    const history = await getJson<{ type: string }[]>(`${base}/runs/${spirals.id}/history`);
    expect(history.filter((h) => h.type === 'step')).toHaveLength((s as { totalSteps: number }).totalSteps);
    const pred = await fetch(`${base}/runs/${xor.id}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        inputs: [
          [0, 0],
          [0, 1],
          [1, 0],
          [1, 1],
        ],
      }),
    });
    const { outputs } = (await pred.json()) as { outputs: number[][] };
    expect(outputs.map((o) => (o[0] > 0.5 ? 1 : 0))).toEqual([0, 1, 1, 0]);
  }, 360_000);

  it('answers a bad config with 400 listing every problem by path, and an unknown run with 404', async () => {
    const bad = {
      ...exampleConfig('xor.json'),
      batchSize: 0,
      optimizer: { type: 'adam', lr: -1 },
      model: { inputSize: 3, layers: [], loss: 'l1' },
    };
    const res = await fetch(`${base}/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(bad),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { problems: string[] };
    expect(body.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^batchSize: must be at least 1/),
        expect.stringMatching(/^optimizer\.lr: must be greater than 0/),
        expect.stringMatching(/^model\.layers: must hold at least one dense layer/),
        expect.stringMatching(/^model\.loss: /),
      ]),
    );
    const mismatch = {
      ...exampleConfig('xor.json'),
      model: { inputSize: 3, layers: [{ units: 1, activation: 'identity' }], loss: 'mse' },
    };
    const res2 = await fetch(`${base}/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(mismatch),
    });
    expect(res2.status).toBe(400);
    expect(JSON.stringify(await res2.json())).toMatch(/model\.inputSize: is 3, the dataset has 2 features per row/);
    for (const path of ['/runs/0123456789ab', '/runs/0123456789ab/history', '/runs/0123456789ab/model']) {
      expect((await fetch(`${base}${path}`)).status).toBe(404);
    }
    expect((await fetch(`${base}/runs/not:an:id`)).status).toBe(404);
  });

  it('cancels a running run', async () => {
    const run = await submitRun(base, { ...exampleConfig('spirals.json'), name: 'to-cancel', epochs: 500 });
    await until(
      async () => (await getJson<{ step: number }>(`${base}/runs/${run.id}`)).step > 2,
      30_000,
      'a few steps',
    );
    const res = await fetch(`${base}/runs/${run.id}/cancel`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { state: string }).state).toBe('cancelled');
    // a shard in flight at the cancel may write its result just after; seeing the run gone, its
    // worker deletes it again (one round trip later)
    const redis = new Redis(redisUrl);
    const left = async () => (await redis.keys(`${prefix}:{run:${run.id}}:*`)).sort();
    await until(async () => (await left()).length === 3, 5_000, 'three keys left').catch(() => undefined);
    const keys = await left();
    await redis.quit();
    expect(keys).toEqual(
      [
        `${prefix}:{run:${run.id}}:config`,
        `${prefix}:{run:${run.id}}:history`,
        `${prefix}:{run:${run.id}}:state`,
      ].sort(),
    );
  });
});

describe('sharing the worker pool', () => {
  const redisUrl = inject('redisUrl');

  it('lets a run with few shards through while a run with many shards holds the queue', async () => {
    const cluster = new TestCluster(redisUrl, 'fair');
    try {
      await Promise.all([cluster.startCoordinator(), cluster.addWorker()]);
      const base = cluster.base;
      // one worker; the big run queues 16 shards a step, the small one 1
      const big = await submitRun(base, { ...exampleConfig('spirals.json'), name: 'big', shards: 16, epochs: 100 });
      await until(
        async () => (await getJson<{ step: number }>(`${base}/runs/${big.id}`)).step >= 2,
        60_000,
        'the big run to start',
      );
      const small = await submitRun(base, { ...exampleConfig('xor.json'), name: 'small', steps: 30, shards: 1 });
      const bigAtStart = (await getJson<{ step: number }>(`${base}/runs/${big.id}`)).step;
      expect((await waitForRun(base, small.id)).state).toBe('completed');
      const bigAtEnd = (await getJson<{ step: number }>(`${base}/runs/${big.id}`)).step;
      // served first-come-first-served, each small step would wait for up to 16 big shards (30
      // small steps ~ 30 big steps); with the small run's jobs ahead (priority = shards per step)
      // a small step waits for at most the one big shard being computed: ~30/16 big steps
      expect(bigAtEnd - bigAtStart).toBeLessThanOrEqual(8);
      await fetch(`${base}/runs/${big.id}/cancel`, { method: 'POST' });
    } finally {
      await cluster.stop();
    }
  });
});

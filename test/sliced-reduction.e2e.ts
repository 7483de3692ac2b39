import { createTrainingEngine } from '@nnq/engine-onnx';
import { parseRunConfig, trainLocal } from '@nnq/training';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TestCluster } from './support/cluster';
import { exampleConfig, modelParams, submitRun, waitForRun } from './support/runs';

// Sliced reduction (issue #11): workers sum and update parameter slices; the weights stay the
// bytes of the unsliced reduction and of the in-process trainer.
describe('sliced reduction on two worker processes', () => {
  const redisUrl = inject('redisUrl');
  const cluster = new TestCluster(redisUrl, 'sliced');
  const { prefix } = cluster;
  let base = '';
  // 12 shards, 4 slices past 8 shards; checkpoints pull the sliced optimizer state from Redis
  const sliced = {
    ...exampleConfig('spirals.json'),
    name: 'sliced',
    epochs: 3,
    shards: 12,
    checkpoint: { every: 10 },
    reduce: { slices: 4, sliceAbove: 8 },
  };
  const unsliced = { ...sliced, name: 'unsliced', reduce: { slices: 1, sliceAbove: 8 } };

  beforeAll(async () => {
    await cluster.startCoordinator();
    base = cluster.base;
    await Promise.all([cluster.addWorker(), cluster.addWorker()]);
    await cluster.waitForWorkers(2);
  });

  afterAll(() => cluster.stop());

  it('ends with the bytes of trainLocal and of the unsliced run, and leaves no slice keys behind', async () => {
    const [a, b] = await Promise.all([submitRun(base, sliced), submitRun(base, unsliced)]);
    const [doneA, doneB] = await Promise.all([waitForRun(base, a.id, 170_000), waitForRun(base, b.id, 170_000)]);
    expect(doneA.state).toBe('completed');
    expect(doneB.state).toBe('completed');
    expect(doneA.loss).toBe(doneB.loss);
    const local = await trainLocal(parseRunConfig(sliced), { engine: createTrainingEngine });
    const bytes = Buffer.from(local.params.buffer, local.params.byteOffset, local.params.byteLength);
    expect((await modelParams(base, a.id)).equals(bytes)).toBe(true);
    expect((await modelParams(base, b.id)).equals(bytes)).toBe(true);
    const redis = new Redis(redisUrl);
    const left = await redis.keys(`${prefix}:{run:${a.id}}:*`);
    await redis.quit();
    expect(left.filter((k) => /:(opt|reduced|grad|params|staging):/.test(k))).toEqual([]);
  });

  it('moves bfloat16 gradients: deterministic (cluster = trainLocal, sliced or not), not float32', async () => {
    const half = { ...sliced, name: 'bf16-sliced', epochs: 1, gradientTransfer: 'bfloat16' };
    const halfUnsliced = { ...half, name: 'bf16-unsliced', reduce: { slices: 1, sliceAbove: 8 } };
    const [a, b] = await Promise.all([submitRun(base, half), submitRun(base, halfUnsliced)]);
    const [doneA, doneB] = await Promise.all([waitForRun(base, a.id, 170_000), waitForRun(base, b.id, 170_000)]);
    expect([doneA.state, doneB.state]).toEqual(['completed', 'completed']);
    const local = await trainLocal(parseRunConfig(half), { engine: createTrainingEngine });
    const bytes = Buffer.from(local.params.buffer, local.params.byteOffset, local.params.byteLength);
    expect((await modelParams(base, a.id)).equals(bytes)).toBe(true);
    expect((await modelParams(base, b.id)).equals(bytes)).toBe(true);
    const full = await trainLocal(parseRunConfig({ ...half, gradientTransfer: 'float32' }), {
      engine: createTrainingEngine,
    });
    expect(Buffer.from(full.params.buffer).equals(bytes)).toBe(false);
  });

  it('refuses clipNorm with slicing, naming the path', async () => {
    const res = await fetch(`${base}/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...sliced, optimizer: { type: 'adam', lr: 0.01, clipNorm: 1 } }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { problems: string[] };
    expect(body.problems).toEqual([
      expect.stringMatching(/^optimizer\.clipNorm: cannot be used with reduce\.slices > 1/),
    ]);
  });
});

import { loadDataset, unconfinedAccess } from '@nnq/data';
import { createTrainingEngine } from '@nnq/engine-onnx';
import { NonFiniteError, parseLocalRunConfig, trainLocal, type LocalRunResult } from '@nnq/training';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TestCluster } from './support/cluster';
import { killInTurn } from './support/kills';
import { exampleConfig, modelParams, submitRun, waitForRun } from './support/runs';

/**
 * lbfgs and hessian_free on the cluster (#20): every loss-and-gradient evaluation is a pass of
 * `pass-gradient` jobs, every Gauss-Newton product a pass of `curvature` jobs, summed in shard
 * order in float64 on the coordinator. The final parameter bytes equal trainSecondOrder's (the
 * in-process oracle) on 1, 2 and 3 workers, and through worker and coordinator SIGKILLs.
 */
const xor = { ...exampleConfig('xor-lbfgs.json'), name: 'xor-lbfgs-c', shards: 2, steps: 40 };
const sine = {
  ...exampleConfig('sine-hessian-free.json'),
  name: 'sine-hf-c',
  shards: 3,
  steps: 12,
  // few CG iterations: each is a distributed pass
  optimizer: { type: 'hessian_free', damping: 0.01, maxCgIterations: 12, cgTolerance: 1e-6 },
  evaluation: { every: 5 },
  checkpoint: { every: 2 },
};
// a fixed large batch per outer step (48 of the 96 train rows, in the epoch's permutation)
const fixed = {
  ...exampleConfig('sine-hessian-free.json'),
  name: 'sine-lbfgs-fixed',
  shards: 2,
  batchSize: 48,
  steps: 10,
  optimizer: { type: 'lbfgs', history: 5 },
  evaluation: { every: 5 },
};
const configs = [xor, sine, fixed];
// longer, so the kills land mid-run
const chaos = { ...sine, name: 'sine-hf-chaos', steps: 40, checkpoint: { every: 3 } };
// and L-BFGS beside it through the same kills (its pairs, loss and gradient resume from checkpoints)
const chaosLbfgs = { ...fixed, name: 'sine-lbfgs-chaos', steps: 40, checkpoint: { every: 3 } };

/**
 * sin on 96 grid points, all train rows, one target of 1e30 (finite, so the data loader takes it):
 * the float32 loss of a batch holding it is infinite. A fixed batch of 16 meets it at a later step.
 */
const POISONED_ROW = 37;
function poisonedSine(): string {
  const rows = Array.from({ length: 96 }, (_, i) => {
    const x = -Math.PI + (2 * Math.PI * i) / 95;
    return `${x},${i === POISONED_ROW ? 1e30 : Math.sin(x)}`;
  });
  return ['x,y', ...rows].join('\n') + '\n';
}
const poisoned = (path: string) => ({
  ...exampleConfig('sine-hessian-free.json'),
  name: 'sine-lbfgs-poisoned',
  dataset: { source: { type: 'csv', path, labelColumns: ['y'], task: 'regression' }, validation: 0, test: 0 },
  shards: 2,
  batchSize: 16,
  steps: 12,
  optimizer: { type: 'lbfgs', history: 5 },
  evaluation: { every: 0 },
});

const bytesOf = (r: LocalRunResult) => Buffer.from(r.params.buffer, r.params.byteOffset, r.params.byteLength);

describe('second-order optimizers on the cluster', () => {
  const redisUrl = inject('redisUrl');
  const local: LocalRunResult[] = [];

  beforeAll(async () => {
    for (const c of [...configs, chaos, chaosLbfgs]) {
      const { config, secondOrder } = parseLocalRunConfig(c);
      local.push(await trainLocal(config, { engine: createTrainingEngine, secondOrder }));
    }
    // the oracle ran what the cluster must: a stop (XOR's line search at float32's floor) and full runs
    expect(local.slice(1, 4).map((l) => l.steps.length)).toEqual([12, 10, 40]);
  });

  describe('1, 2 and 3 workers', () => {
    const cluster = new TestCluster(redisUrl, 'so-cluster');
    beforeAll(() => cluster.startCoordinator());
    afterAll(() => cluster.stop());

    it.each([1, 2, 3])(
      'gives the in-process bytes with %i worker(s)',
      async (n) => {
        while (cluster.workers.length < n) await cluster.addWorker();
        await cluster.waitForWorkers(n);
        const runs = await Promise.all(configs.map((c) => submitRun(cluster.base, c)));
        const done = await Promise.all(runs.map((r) => waitForRun(cluster.base, r.id, 90_000)));
        for (const [i, d] of done.entries()) {
          expect(d.state, JSON.stringify(d.error)).toBe('completed');
          expect(d.step).toBe(local[i].steps.length);
          expect(d.stopped).toBe(local[i].stopped);
          expect((await modelParams(cluster.base, d.id)).equals(bytesOf(local[i]))).toBe(true);
        }
      },
      120_000,
    );
  });

  it('gives the fault-free bytes through worker and coordinator SIGKILLs, Hessian-free and L-BFGS', async () => {
    const cluster = new TestCluster(redisUrl, 'so-chaos', {
      NNQ_LOCK_DURATION_MS: '1000',
      // every pass job waits this long first (a step is about 14 passes), so kills land mid-pass
      NNQ_CHAOS_SHARD_DELAY_MS: '15',
      NNQ_MAX_WORKER_DEATHS: '6',
    });
    try {
      await cluster.startCoordinator();
      for (let i = 0; i < 3; i++) await cluster.addWorker();
      const [r, lbfgs] = await Promise.all([submitRun(cluster.base, chaos), submitRun(cluster.base, chaosLbfgs)]);
      // a worker (replaced) and the coordinator (restarted) in turn, a step or more apart
      const kills = await killInTurn(cluster, r.id, 34, { jitterMs: 150 });
      // 2 of each at least (8 when the machine is not loaded)
      expect(kills).toBeGreaterThanOrEqual(4);
      const done = await waitForRun(cluster.base, r.id, 90_000);
      expect(done.state, JSON.stringify(done.error)).toBe('completed');
      expect((await modelParams(cluster.base, r.id)).equals(bytesOf(local[3]))).toBe(true);
      const doneLbfgs = await waitForRun(cluster.base, lbfgs.id, 90_000);
      expect(doneLbfgs.state, JSON.stringify(doneLbfgs.error)).toBe('completed');
      expect([doneLbfgs.step, doneLbfgs.stopped]).toEqual([local[4].steps.length, local[4].stopped]);
      expect((await modelParams(cluster.base, lbfgs.id)).equals(bytesOf(local[4]))).toBe(true);
    } finally {
      await cluster.stop();
    }
  }, 150_000);

  it('fails a run whose loss turns infinite with the reason and the step, the parameters before it kept', async () => {
    const cluster = new TestCluster(redisUrl, 'so-poison');
    try {
      const csv = join(cluster.dataDir, 'sine-poisoned.csv');
      writeFileSync(csv, poisonedSine());
      const json = poisoned(csv);
      // the oracle: the in-process run fails at step k; the same run of k steps gives the parameters before it
      const { config, secondOrder } = parseLocalRunConfig(json);
      const dataset = loadDataset(config.dataset.source!, unconfinedAccess());
      const options = { engine: createTrainingEngine, secondOrder, dataset };
      const err: unknown = await trainLocal(config, options).catch((e) => e);
      expect(err).toBeInstanceOf(NonFiniteError);
      const k = (err as NonFiniteError).step;
      expect(k).toBeGreaterThan(0);
      const before = await trainLocal({ ...config, steps: k }, options);
      expect(before.params.every(Number.isFinite)).toBe(true);

      await cluster.startCoordinator();
      await cluster.addWorker();
      const r = await submitRun(cluster.base, json);
      const done = await waitForRun(cluster.base, r.id, 90_000);
      expect(done.state).toBe('failed');
      expect(done.error!.reason).toMatch(new RegExp(`non-finite loss or gradient at step ${k}\\b`));
      expect(done.error!.step).toBe(k);
      expect(done.step).toBe(k);
      expect((await modelParams(cluster.base, r.id)).equals(bytesOf(before))).toBe(true);
    } finally {
      await cluster.stop();
    }
  }, 120_000);

  it('queues late pass shards again under copy ids and still gives the in-process bytes', async () => {
    // every pass job takes 80 ms, the straggler deadline is 25 ms: each pass's shards are queued
    // again (up to 3 rounds), copies and originals race, the first result written counts
    const cluster = new TestCluster(redisUrl, 'so-late', { NNQ_STRAGGLER_MS: '25', NNQ_CHAOS_SHARD_DELAY_MS: '80' });
    try {
      await cluster.startCoordinator();
      for (let i = 0; i < 3; i++) await cluster.addWorker();
      await cluster.waitForWorkers(3);
      const r = await submitRun(cluster.base, fixed);
      const done = await waitForRun(cluster.base, r.id, 90_000);
      expect(done.state, JSON.stringify(done.error)).toBe('completed');
      expect((await modelParams(cluster.base, r.id)).equals(bytesOf(local[2]))).toBe(true);
      const metrics = await (await fetch(`${cluster.base}/metrics`)).text();
      expect(Number(/^nnq_straggler_shards_total\S* (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    } finally {
      await cluster.stop();
    }
  }, 120_000);
});

import { Logger } from '@nestjs/common';
import { loadDataset } from '@nnq/data';
import { createOptimizerState } from '@nnq/nn';
import { JOB_CURVATURE, JOB_PASS_GRADIENT, KeySchema, passJobId, type PassJob } from '@nnq/protocol';
import { initialParams, parseLocalRunConfig, setupRun } from '@nnq/training';
import { describe, expect, it, vi } from 'vitest';
import type { DriverDeps } from '../runs/driver-deps';
import { SecondOrderStep } from './second-order-step';
import { stragglerDeadline, type WaitDeadline } from './stragglers';

/**
 * Pass jobs get the straggler re-queue gradient jobs have (stragglers.ts): a shard late by
 * NNQ_STRAGGLER_MS is queued again under `<jobId>-r<round>`, priority 1, with the same data (so the
 * copy computes the same bytes and SET NX keeps the first). test/second-order-cluster.e2e.ts runs
 * it on a cluster whose pass jobs are all late.
 */

const xor = {
  name: 'xor-lbfgs',
  dataset: { source: { type: 'synthetic', name: 'xor', n: 64, seed: 1, task: 'regression' } },
  model: {
    inputSize: 2,
    layers: [
      { units: 2, activation: 'tanh' },
      { units: 1, activation: 'identity' },
    ],
    loss: 'mse',
  },
  optimizer: { type: 'lbfgs', history: 5 },
  batchSize: 30,
  shards: 3,
  steps: 4,
};

interface Added {
  name: string;
  data: PassJob;
  opts: { jobId: string; priority: number };
}

function fakeDeps(stragglerMs: number) {
  const added: Added[][] = [];
  const stragglers = vi.fn();
  const deadlines: (WaitDeadline | undefined)[] = [];
  const deps = {
    redis: { set: vi.fn(async () => 'OK'), del: vi.fn(async () => 1) },
    keys: new KeySchema('so-step-spec'),
    queue: { addBulk: vi.fn(async (jobs: Added[]) => void added.push(jobs)) },
    metrics: { stragglers, step: vi.fn() },
    stragglerMs,
    waiter: {
      forget: vi.fn(),
      // the first pass's deadline passes once with shard 1 missing, then the wait ends (no worker here)
      waitFor: vi.fn(async (_k: string[], _ids: string[], _s: AbortSignal, late?: WaitDeadline) => {
        deadlines.push(late);
        await late?.onDeadline([1], 1);
        throw new Error('no workers in this spec');
      }),
    },
  } as unknown as DriverDeps;
  return { deps, added, stragglers, deadlines };
}

describe('SecondOrderStep and late shards', () => {
  it('queues a late pass-gradient shard again under <jobId>-r1, ahead of other jobs, the same data', async () => {
    const { config, secondOrder } = parseLocalRunConfig(xor);
    const setup = setupRun(config, loadDataset(config.dataset.source!));
    const { deps, added, stragglers, deadlines } = fakeDeps(250);
    const step = new SecondOrderStep(deps, 'r1', config, setup, new Logger('r1'), secondOrder!);
    const params = initialParams(config);
    await step.init({ params, state: createOptimizerState(config.optimizer, params.length) });
    await expect(step.step(0, new AbortController().signal)).rejects.toThrow(/no workers in this spec/);

    expect(deadlines.map((d) => d?.afterMs)).toEqual([250]);
    const [jobs, copies] = added;
    expect(jobs.map((j) => j.opts.jobId)).toEqual([0, 1, 2].map((s) => passJobId('pass-gradient', 'r1', 0, 0, s)));
    expect(copies).toEqual([
      { ...jobs[1], opts: { ...jobs[1].opts, jobId: `${passJobId('pass-gradient', 'r1', 0, 0, 1)}-r1`, priority: 1 } },
    ]);
    expect(copies[0]).toMatchObject({
      name: JOB_PASS_GRADIENT,
      data: { kind: 'pass-gradient', step: 0, pass: 0, shard: 1 },
    });
    expect(stragglers).toHaveBeenCalledWith(1);
  });
});

describe('stragglerDeadline with curvature jobs', () => {
  it('re-queues each missing shard per round under -r<round>, the point and direction unchanged', async () => {
    const jobs = [0, 1, 2].map((shard) => {
      const data: PassJob = {
        kind: 'curvature',
        runId: 'r3',
        step: 5,
        pass: 7,
        point: 6,
        shard,
        shards: 3,
        start: shard * 10,
        end: shard * 10 + 10,
      };
      return {
        name: JOB_CURVATURE,
        data,
        opts: { jobId: passJobId('curvature', 'r3', 5, 7, shard), priority: 3, attempts: 5 },
      };
    });
    const addBulk = vi.fn(async (_added: typeof jobs) => []);
    const warn = vi.fn();
    const stragglers = vi.fn();
    const deps = { queue: { addBulk }, metrics: { stragglers }, stragglerMs: 100 } as unknown as DriverDeps;
    const late = stragglerDeadline(deps, { warn }, 5, jobs, 7);
    await late.onDeadline([0, 2], 1);
    await late.onDeadline([2], 2);
    expect(
      addBulk.mock.calls.map(([added]) => added.map((j) => [j.opts.jobId, j.opts.priority, j.opts.attempts, j.data])),
    ).toEqual([
      [
        [`${jobs[0].opts.jobId}-r1`, 1, 5, jobs[0].data],
        [`${jobs[2].opts.jobId}-r1`, 1, 5, jobs[2].data],
      ],
      [[`${jobs[2].opts.jobId}-r2`, 1, 5, jobs[2].data]],
    ]);
    expect(warn.mock.calls.map(([m]) => m)).toEqual([
      'step 5 pass 7: shards 0, 2 late after 100 ms, queued again',
      'step 5 pass 7: shards 2 late after 200 ms, queued again',
    ]);
    expect(stragglers.mock.calls).toEqual([[2], [1]]);
  });
});

import type { GradientJob } from '@nnq/protocol';
import type { RunManifest } from '@nnq/training';
import { UnrecoverableError } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { checkMemory, memoryProblem } from './memory-check';

/** A run with one hidden layer of 1,000,000 units. */
const manifest = {
  runId: 'run1',
  spec: {
    inputSize: 2,
    layers: [
      { units: 1_000_000, activation: 'relu', useBias: true },
      { units: 1, activation: 'identity', useBias: true },
    ],
    skips: [],
    loss: 'sum_of_squares',
  },
} as unknown as RunManifest;
const job = (rows: number): GradientJob => ({
  kind: 'gradient',
  runId: 'run1',
  step: 0,
  shard: 0,
  shards: 1,
  version: 0,
  epoch: 0,
  start: 0,
  end: rows,
});

describe('memoryProblem', () => {
  it("refuses a shard over this worker's budget with the estimate, before anything is allocated", () => {
    expect(memoryProblem(job(100), manifest, 2048)).toBe(
      'run run1: a 100-row gradient shard needs about 2,472 MB (activations 2,289 MB, parameters 184 MB), ' +
        "over this worker's NNQ_WORKER_MEMORY_MB of 2048 MB",
    );
    expect(() => checkMemory(job(100), manifest, 2048)).toThrow(UnrecoverableError);
  });

  it('lets a shard that fits through', () => {
    expect(memoryProblem(job(10), manifest, 2048)).toBeNull();
    expect(memoryProblem(job(100), manifest, 4096)).toBeNull();
  });
});

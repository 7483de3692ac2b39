import { learningRate, paramLayout } from '@nnq/nn';
import {
  evaluateJobId,
  gradientJobEntry,
  gradientJobId,
  reduceJobId,
  repairJobId,
  type EvaluateJob,
  type GradientJob,
  type ReduceJob,
} from '@nnq/protocol';
import { parseRunConfig, RunPlan, sliceRanges, type RunManifest } from '@nnq/training';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UnrecoverableError } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { checkPlan, evaluateMismatch, planMismatch, reduceMismatch } from './plan-check';

const manifest: RunManifest = {
  runId: 'run1',
  spec: {
    inputSize: 2,
    layers: [{ units: 1, activation: 'identity', useBias: true }],
    skips: [],
    loss: 'sum_of_squares',
  },
  datasetId: 'd'.repeat(64),
  preprocessing: { features: [] } as unknown as RunManifest['preprocessing'],
  seed: 7,
  batchSize: 30,
  shards: 4,
  paramCount: 3,
  splitRows: { train: 100, validation: 0, test: 0 },
};
// 100 rows, batch 30: 3 steps an epoch; shards of 8, 8, 7, 7 rows
const plan = new RunPlan(100, 30, 4, 7, { steps: 12 });

/** The job the coordinator queues for step t, shard s (as step-jobs.ts builds it). */
function planned(t: number, s: number): { id: string; data: GradientJob } {
  const r = plan.shardRange(t, s);
  const data: GradientJob = { kind: 'gradient', runId: 'run1', step: t, shards: 4, version: t, ...r };
  return { id: gradientJobEntry(data).opts.jobId, data };
}

describe('planMismatch', () => {
  it.each([
    [0, 0],
    [2, 3],
    [3, 0],
    [7, 2],
    [11, 3],
  ])('accepts the planned job of step %i shard %i, and its re-queued copies', (t, s) => {
    const { id, data } = planned(t, s);
    expect(planMismatch(id, data, manifest)).toBeNull();
    expect(planMismatch(`${id}-r2`, data, manifest)).toBeNull();
    expect(planMismatch(repairJobId(id, 1), { ...data, ahead: true }, manifest)).toBeNull();
  });

  it('refuses other rows under a planned id, naming every field that differs and the plan value', () => {
    const { id, data } = planned(4, 1);
    expect(planMismatch(id, { ...data, start: data.start + 1, end: data.end + 1 }, manifest)).toBe(
      `job run1-4-1: not in the run plan of run run1 (step 4, shard 1): ` +
        `start is ${data.start + 1}, the plan says ${data.start}; end is ${data.end + 1}, the plan says ${data.end}`,
    );
    expect(planMismatch(id, { ...data, epoch: 0 }, manifest)).toMatch(/: epoch is 0, the plan says 1$/);
    expect(planMismatch(id, { ...data, version: 3 }, manifest)).toMatch(/: version is 3, the plan says 4$/);
  });

  it("refuses a planned payload under another step's or run's id (that shard would never be computed)", () => {
    const { data } = planned(5, 0);
    expect(planMismatch(gradientJobId('run1', 4, 0), data, manifest)).toBe(
      'job run1-4-0: not in the run plan of run run1 (step 5, shard 0): its id does not name run run1 step 5 shard 0',
    );
    expect(planMismatch(gradientJobId('other', 5, 0), data, manifest)).toMatch(/its id does not name run run1/);
    expect(planMismatch('run1-5-0-x', data, manifest)).toMatch(/its id does not name run run1/);
    expect(planMismatch(undefined, data, manifest)).toMatch(/^job \(no id\): not in the run plan/);
  });

  it('refuses a range past the train split or a foreign shard count as before', () => {
    const { id, data } = planned(0, 0);
    expect(planMismatch(id, { ...data, end: 101 }, manifest)).toBe(
      'job run1-0-0: range or shard count does not fit run run1',
    );
    expect(planMismatch(id, { ...data, shards: 5 }, manifest)).toMatch(/range or shard count does not fit/);
  });

  it('fails the job for good (UnrecoverableError), so BullMQ does not retry it', () => {
    const { id, data } = planned(1, 1);
    expect(() => checkPlan(id, data, manifest)).not.toThrow();
    expect(() => checkPlan(id, { ...data, start: 0 }, manifest)).toThrow(UnrecoverableError);
  });
});

describe('reduceMismatch', () => {
  // two spirals in 12 shards, reduced in 3 slices, with a warm-up: the learning rate varies by step
  const spirals = JSON.parse(readFileSync(join(__dirname, '../../../examples/spirals.json'), 'utf8')) as object;
  const config = parseRunConfig({
    ...spirals,
    shards: 12,
    reduce: { slices: 3, sliceAbove: 8 },
    schedule: { type: 'constant', warmupSteps: 10 },
  });
  const P = paramLayout(config.model).size;
  /** The reduce job the coordinator queues for step t, slice k (as sliced-step.ts builds it). */
  const planned = (t: number, k: number): ReduceJob => {
    const { start, end } = sliceRanges(P, 3)[k];
    const lr = learningRate(config.schedule, t, { baseLr: config.optimizer.lr, batchSize: config.batchSize });
    return { kind: 'reduce', runId: 'run1', step: t, slice: k, start, end, version: t, lr, shards: 12, rows: 128 };
  };

  it.each([
    [0, 0],
    [3, 2],
    [40, 1],
  ])('accepts the planned reduce job of step %i slice %i', (t, k) => {
    expect(reduceMismatch(reduceJobId('run1', t, k), planned(t, k), config, P)).toBeNull();
  });

  it('refuses another learning rate, range or row count, naming each with the plan value', () => {
    const job = planned(3, 1);
    expect(reduceMismatch(reduceJobId('run1', 3, 1), { ...job, lr: 0.5 }, config, P)).toBe(
      `job run1-3-r1: not in the run plan of run run1 (step 3, slice 1): lr is 0.5, the plan says ${job.lr}`,
    );
    expect(reduceMismatch(reduceJobId('run1', 3, 1), { ...job, start: 0, rows: 64 }, config, P)).toMatch(
      /: start is 0, the plan says \d+; rows is 64, the plan says 128$/,
    );
    expect(reduceMismatch(reduceJobId('run1', 3, 9), { ...job, slice: 9 }, config, P)).toMatch(
      /\(step 3, slice 9\): slice 9 does not exist$/,
    );
  });

  it("refuses a planned job under another step's id", () => {
    expect(reduceMismatch(reduceJobId('run1', 2, 1), planned(3, 1), config, P)).toBe(
      'job run1-2-r1: not in the run plan of run run1 (step 3, slice 1): its id does not name run run1 step 3 slice 1',
    );
  });
});

describe('evaluateMismatch', () => {
  // 300 validation rows in shards of 128: [0, 128), [128, 256), [256, 300)
  const m: RunManifest = { ...manifest, splitRows: { train: 100, validation: 300, test: 0 }, evalRowsPerShard: 128 };
  const planned = (shard: number, start: number, end: number): EvaluateJob => ({
    kind: 'evaluate',
    runId: 'run1',
    evalId: 'validation-12',
    split: 'validation',
    shard,
    version: 12,
    start,
    end,
  });
  const id = (shard: number) => evaluateJobId('run1', 'validation-12', shard);

  it('accepts the planned shards and their repair copies', () => {
    expect(evaluateMismatch(id(0), planned(0, 0, 128), m)).toBeNull();
    expect(evaluateMismatch(id(2), planned(2, 256, 300), m)).toBeNull();
    expect(evaluateMismatch(repairJobId(id(1), 2), planned(1, 128, 256), m)).toBeNull();
  });

  it('refuses other rows, another version under the evaluation id, or another shard id', () => {
    expect(evaluateMismatch(id(1), planned(1, 0, 128), m)).toBe(
      'job run1-validation-12-e1: not in the run plan of run run1 (evaluation validation-12, shard 1): ' +
        'start is 0, the plan says 128; end is 128, the plan says 256',
    );
    expect(evaluateMismatch(id(0), { ...planned(0, 0, 128), version: 11 }, m)).toMatch(
      /: evalId is validation-12, the split and version say validation-11$/,
    );
    expect(evaluateMismatch(id(0), planned(1, 128, 256), m)).toMatch(
      /: its id does not name run run1 evaluation validation-12 shard 1$/,
    );
    expect(evaluateMismatch(id(3), planned(3, 299, 300), m)).toMatch(/: shard 3 does not exist$/);
  });

  it('checks only the split size against a manifest without evalRowsPerShard, with the old message', () => {
    const old: RunManifest = { ...m, evalRowsPerShard: undefined };
    expect(evaluateMismatch('anything', planned(1, 0, 128), old)).toBeNull();
    expect(evaluateMismatch(id(0), planned(0, 0, 999), old)).toBe(
      'evaluation range [0, 999) exceeds the validation split',
    );
  });
});

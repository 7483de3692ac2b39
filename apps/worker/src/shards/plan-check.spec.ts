import { gradientJobEntry, gradientJobId, repairJobId, type GradientJob } from '@nnq/protocol';
import { RunPlan, type RunManifest } from '@nnq/training';
import { UnrecoverableError } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { checkPlan, planMismatch } from './plan-check';

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
      `job run1-4-1: not in the run plan of run run1 (step 4, shard 1): start is ${data.start + 1}, the plan says ${data.start}; end is ${data.end + 1}, the plan says ${data.end}`,
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

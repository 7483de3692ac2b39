import { gradientJobId, JOB_GRADIENT, type GradientJob } from '@nnq/protocol';
import type { RunPlan } from '@nnq/training';
import type { JobsOptions } from 'bullmq';

/** Options of every shard job: retried with backoff, gone once completed, failures kept a day. */
export const JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: true,
  removeOnFail: { age: 24 * 3600 },
};

/**
 * The gradient jobs of step t, one per shard (`ahead`: queued while step t-1 still runs). The
 * priority is the shard count, so a run with few shards is served first.
 */
export function gradientJobs(runId: string, plan: RunPlan, t: number, ahead = false) {
  const ranges = plan.shardsOf(t);
  return ranges.map((r) => {
    const data: GradientJob = {
      kind: 'gradient',
      runId,
      step: t,
      shard: r.shard,
      shards: ranges.length,
      version: t,
      epoch: r.epoch,
      start: r.start,
      end: r.end,
      ...(ahead ? { ahead } : {}),
    };
    return {
      name: JOB_GRADIENT,
      data,
      opts: { ...JOB_OPTIONS, jobId: gradientJobId(runId, t, r.shard), priority: ranges.length },
    };
  });
}

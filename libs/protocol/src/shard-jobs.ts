import type { JobsOptions } from 'bullmq';
import { gradientJobId, type GradientJob } from './jobs';
import { JOB_GRADIENT } from './queues';

/** Options of every shard job: retried with backoff, gone once completed, failures kept a day. */
export const JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: true,
  removeOnFail: { age: 24 * 3600 },
};

/**
 * A gradient job as added to the shard queue, by the coordinator or by a reduce job queueing the
 * next step. The priority is the shard count, so a run with few shards is served first.
 */
export function gradientJobEntry(data: GradientJob) {
  return {
    name: JOB_GRADIENT,
    data,
    opts: { ...JOB_OPTIONS, jobId: gradientJobId(data.runId, data.step, data.shard), priority: data.shards },
  };
}

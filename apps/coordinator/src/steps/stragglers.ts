import type { Logger } from '@nestjs/common';
import type { DriverDeps } from '../runs/driver-deps';

/** The straggler argument of ShardWaiter.waitFor. */
export interface WaitDeadline {
  afterMs: number;
  onDeadline: (missing: number[], round: number) => Promise<void>;
}

/** A queued job, as queue.addBulk takes it: gradient shards (step-jobs.ts) and second-order passes alike. */
export interface QueuedJob {
  name: string;
  data: unknown;
  opts: { jobId: string; priority?: number } & Record<string, unknown>;
}

/**
 * The straggler deadline of a step's shard jobs, for ShardWaiter.waitFor: a shard not done
 * NNQ_STRAGGLER_MS after dispatch (each round) runs again elsewhere under `<jobId>-r<round>`, ahead
 * of other jobs (priority 1); the first result written counts (results are written once, SET NX,
 * and every copy computes the same bytes). Undefined deadline when 0 (never). `pass`: the
 * second-order pass the jobs are of (SecondOrderStep), for the log line.
 */
export function stragglerDeadline(
  deps: Pick<DriverDeps, 'queue' | 'metrics' | 'stragglerMs'>,
  logger: Pick<Logger, 'warn'>,
  t: number,
  jobs: readonly QueuedJob[],
  pass?: number,
): WaitDeadline {
  const what = pass === undefined ? `step ${t}` : `step ${t} pass ${pass}`;
  return {
    afterMs: deps.stragglerMs,
    onDeadline: async (missing, round) => {
      logger.warn(`${what}: shards ${missing.join(', ')} late after ${deps.stragglerMs * round} ms, queued again`);
      deps.metrics.stragglers(missing.length);
      await deps.queue.addBulk(
        missing.map((s) => ({
          ...jobs[s],
          opts: { ...jobs[s].opts, jobId: `${jobs[s].opts.jobId}-r${round}`, priority: 1 },
        })),
      );
    },
  };
}

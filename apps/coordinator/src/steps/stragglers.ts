import type { Logger } from '@nestjs/common';
import type { DriverDeps } from '../runs/driver-deps';
import type { gradientJobs } from '../runs/step-jobs';

/** The straggler argument of ShardWaiter.waitFor. */
export interface WaitDeadline {
  afterMs: number;
  onDeadline: (missing: number[], round: number) => Promise<void>;
}

/**
 * The straggler deadline of a step's gradient jobs, for ShardWaiter.waitFor: a shard not done
 * NNQ_STRAGGLER_MS after dispatch (each round) runs again elsewhere under `<jobId>-r<round>`, ahead
 * of other jobs (priority 1); the first result written counts. Undefined deadline when 0 (never).
 */
export function stragglerDeadline(
  deps: Pick<DriverDeps, 'queue' | 'metrics' | 'stragglerMs'>,
  logger: Pick<Logger, 'warn'>,
  t: number,
  jobs: ReturnType<typeof gradientJobs>,
): WaitDeadline {
  return {
    afterMs: deps.stragglerMs,
    onDeadline: async (missing, round) => {
      logger.warn(`step ${t}: shards ${missing.join(', ')} late after ${deps.stragglerMs * round} ms, queued again`);
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

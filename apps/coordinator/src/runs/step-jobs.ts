import { gradientJobEntry } from '@nnq/protocol';
import type { RunPlan } from '@nnq/training';

/** The gradient jobs of step t, one per shard (`ahead`: queued while step t-1 still runs). */
export function gradientJobs(runId: string, plan: RunPlan, t: number, ahead = false) {
  const ranges = plan.shardsOf(t);
  return ranges.map((r) =>
    gradientJobEntry({
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
    }),
  );
}

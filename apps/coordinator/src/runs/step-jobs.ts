import { evaluateJobId, gradientJobEntry, JOB_EVALUATE, JOB_OPTIONS, type EvaluateJob } from '@nnq/protocol';
import { evalRanges, type RunPlan, type SplitName } from '@nnq/training';

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

/**
 * The evaluation jobs of a split of `rows` rows at parameters `version`: shards of at most
 * `rowsPerShard` rows, under the evaluation id `<split>-<version>`.
 */
export function evaluateJobs(runId: string, split: SplitName, version: number, rows: number, rowsPerShard: number) {
  const evalId = `${split}-${version}`;
  const ranges = evalRanges(rows, rowsPerShard);
  return ranges.map(([start, end], shard) => {
    const data: EvaluateJob = { kind: 'evaluate', runId, evalId, split, shard, version, start, end };
    return {
      name: JOB_EVALUATE,
      data,
      opts: { ...JOB_OPTIONS, jobId: evaluateJobId(runId, evalId, shard), priority: ranges.length },
    };
  });
}

import {
  evaluateJobId,
  gradientJobEntry,
  JOB_EVALUATE,
  JOB_OPTIONS,
  JOB_REDUCE,
  reduceJobId,
  type EvaluateJob,
  type ReduceJob,
} from '@nnq/protocol';
import {
  evalRanges,
  stepLearningRate,
  type RunConfig,
  type RunPlan,
  type SliceRange,
  type SplitName,
} from '@nnq/training';

/** Step t's shard ranges, its gradient jobs (one per shard, in shard order) and their job ids. */
export function stepJobs(runId: string, plan: RunPlan, t: number) {
  const jobs = gradientJobs(runId, plan, t);
  return { ranges: plan.shardsOf(t), jobs, jobIds: jobs.map((j) => j.opts.jobId) };
}

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

/**
 * The reduce jobs of sliced step t, one per slice (docs/deploy.md): the slice's parameter range,
 * version t, the schedule's learning rate at t, the step's rows (from the plan), and the slice's
 * share of step t+1's shards, which the job queues once its slice is committed. Also returns the
 * rows, the learning rate and step t+1's shards, which the step records.
 */
export function reduceStep(runId: string, config: RunConfig, plan: RunPlan, ranges: SliceRange[], t: number) {
  const shards = plan.shardsOf(t);
  const rows = shards.reduce((n, r) => n + r.end - r.start, 0);
  const lr = stepLearningRate(config, t);
  const next = t + 1 < plan.totalSteps ? plan.shardsOf(t + 1) : [];
  const K = ranges.length;
  const jobs = ranges.map((r) => {
    const share = next.slice(Math.floor((r.slice * next.length) / K), Math.floor(((r.slice + 1) * next.length) / K));
    const data: ReduceJob = {
      kind: 'reduce',
      runId,
      step: t,
      slice: r.slice,
      start: r.start,
      end: r.end,
      version: t,
      lr,
      shards: shards.length,
      rows,
    };
    if (share.length) data.next = share.map(({ shard, epoch, start, end }) => ({ shard, epoch, start, end }));
    return { name: JOB_REDUCE, data, opts: { ...JOB_OPTIONS, jobId: reduceJobId(runId, t, r.slice), priority: 1 } };
  });
  return { jobs, rows, lr, next };
}

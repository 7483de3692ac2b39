import {
  parseEvaluateJobId,
  parseGradientJobId,
  PLAN_MISMATCH,
  parseReduceJobId,
  type EvaluateJob,
  type GradientJob,
  type ReduceJob,
} from '@nnq/protocol';
import { evalRanges, RunPlan, sliceRanges, stepLearningRate, type RunConfig, type RunManifest } from '@nnq/training';
import { UnrecoverableError } from 'bullmq';

/** The plan of each manifest a worker holds (the manifest object is cached per run). */
const plans = new WeakMap<RunManifest, RunPlan>();

function planOf(m: RunManifest): RunPlan {
  let plan = plans.get(m);
  if (!plan) {
    // the length does not matter: a step's rows depend on the epoch size, batch, shards and seed only
    plan = new RunPlan(m.splitRows.train, m.batchSize, m.shards, m.seed, { steps: 1 });
    plans.set(m, plan);
  }
  return plan;
}

/**
 * Why a gradient job is not the one the run's plan has for its step and shard, or null when it is.
 * The plan is a function of the manifest (train rows, batch size, shards, seed): step t, shard s
 * takes positions [start, end) of epoch t / stepsPerEpoch's permutation, at parameters version t,
 * under job id `<run>-<t>-<s>` (or a copy's `-r<n>` / `-f<n>`). A job that disagrees was not queued
 * by the run's coordinator or reducers: computing it would sum other rows into the step, or leave
 * the shard the id stands for undone. Names each field that differs, with the plan's value.
 */
export function planMismatch(jobId: string | undefined, job: GradientJob, m: RunManifest): string | null {
  // a range past the split or a foreign shard count cannot be planned at all (named by the payload)
  if (job.end > m.splitRows.train || job.shards !== m.shards)
    return `job ${job.runId}-${job.step}-${job.shard}: range or shard count does not fit run ${job.runId}`;
  const want = { ...planOf(m).shardRange(job.step, job.shard), version: job.step };
  const differ = (['epoch', 'start', 'end', 'version'] as const)
    .filter((f) => job[f] !== want[f])
    .map((f) => `${f} is ${job[f]}, the plan says ${want[f]}`);
  const named = jobId === undefined ? null : parseGradientJobId(jobId);
  if (!named || named.runId !== job.runId || named.step !== job.step || named.shard !== job.shard)
    differ.push(`its id does not name run ${job.runId} step ${job.step} shard ${job.shard}`);
  if (!differ.length) return null;
  return mismatch(jobId, job.runId, `step ${job.step}, shard ${job.shard}`, differ);
}

/**
 * Why an evaluation job is not the one the run's coordinator queues for its evaluation id and
 * shard, or null: the id `<split>-<version>` names the job's split and version, its range is
 * shard k of the split's evalRanges (manifest evalRowsPerShard), and its job id is
 * `<run>-<split>-<version>-e<shard>` (or a copy's `-f<n>`). Other rows would change the metrics; a
 * job under another shard's id would leave that shard undone.
 */
export function evaluateMismatch(jobId: string | undefined, job: EvaluateJob, m: RunManifest): string | null {
  const rows = m.splitRows[job.split];
  if (job.end > rows) return `evaluation range [${job.start}, ${job.end}) exceeds the ${job.split} split`;
  // a manifest from before evalRowsPerShard: the split's size is all there is to check
  if (m.evalRowsPerShard === undefined) return null;
  const differ: string[] = [];
  const evalId = `${job.split}-${job.version}`;
  if (job.evalId !== evalId) differ.push(`evalId is ${job.evalId}, the split and version say ${evalId}`);
  const range = evalRanges(rows, m.evalRowsPerShard)[job.shard];
  if (!range) differ.push(`shard ${job.shard} does not exist`);
  const want = { start: range?.[0], end: range?.[1] };
  for (const f of ['start', 'end'] as const)
    if (range && job[f] !== want[f]) differ.push(`${f} is ${job[f]}, the plan says ${want[f]}`);
  const named = jobId === undefined ? null : parseEvaluateJobId(jobId);
  if (!named || named.runId !== job.runId || named.evalId !== job.evalId || named.shard !== job.shard)
    differ.push(`its id does not name run ${job.runId} evaluation ${job.evalId} shard ${job.shard}`);
  if (!differ.length) return null;
  return mismatch(jobId, job.runId, `evaluation ${job.evalId}, shard ${job.shard}`, differ);
}

/** Fail a gradient or evaluation job that is not in its run's plan for good (no retry can make it right). */
export function checkPlan(jobId: string | undefined, job: GradientJob | EvaluateJob, m: RunManifest): void {
  const problem = job.kind === 'gradient' ? planMismatch(jobId, job, m) : evaluateMismatch(jobId, job, m);
  if (problem) throw new UnrecoverableError(problem);
}

/**
 * Why a reduce job (sliced reduction) is not the one the run's coordinator queues for its step and
 * slice, or null: its parameter range is the slice's (sliceRanges), it reads version = step, its
 * learning rate is the schedule's at that step, its rows a whole batch over the run's shards, and
 * its id is `<run>-<step>-r<slice>` (or a copy's `-f<n>`). Another learning rate or range would
 * change the weights. (The next step's shards it queues are checked by the workers that take them.)
 */
export function reduceMismatch(
  jobId: string | undefined,
  job: ReduceJob,
  config: RunConfig,
  paramCount: number,
): string | null {
  const range = sliceRanges(paramCount, config.reduce.slices)[job.slice];
  const lr = stepLearningRate(config, job.step);
  const { shards, batchSize: rows } = config;
  const want = { start: range?.start, end: range?.end, version: job.step, lr, shards, rows };
  const differ = range
    ? (['start', 'end', 'version', 'lr', 'shards', 'rows'] as const)
        .filter((f) => job[f] !== want[f])
        .map((f) => `${f} is ${job[f]}, the plan says ${want[f]}`)
    : [`slice ${job.slice} does not exist`];
  const named = jobId === undefined ? null : parseReduceJobId(jobId);
  if (!named || named.runId !== job.runId || named.step !== job.step || named.slice !== job.slice)
    differ.push(`its id does not name run ${job.runId} step ${job.step} slice ${job.slice}`);
  if (!differ.length) return null;
  return mismatch(jobId, job.runId, `step ${job.step}, slice ${job.slice}`, differ);
}

/** The refusal of a job not in its run's plan: which job, where the plan puts it, and each field that differs. */
function mismatch(jobId: string | undefined, runId: string, where: string, differ: string[]): string {
  return `job ${jobId ?? '(no id)'}: ${PLAN_MISMATCH} of run ${runId} (${where}): ${differ.join('; ')}`;
}

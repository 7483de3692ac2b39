import { z } from 'zod';
import { ID_PATTERN } from './keys';

const id = z.string().regex(ID_PATTERN, 'must be 1-64 characters of [A-Za-z0-9_-]');
const count = z.number().int('must be an integer').min(0, 'must be at least 0');

/**
 * Job payloads on the shard queue: ids, versions and ranges, never tensors (BullMQ stores job
 * data as JSON text). Workers parse job.data with these schemas: pipes never run on queue jobs.
 */
export const GradientJobSchema = z
  .object({
    kind: z.literal('gradient'),
    runId: id,
    step: count,
    shard: count,
    shards: z.number().int().min(1),
    /** Parameter version the gradient is taken at (equals the step in a synchronous run). */
    version: count,
    epoch: count,
    /** Positions [start, end) in the epoch permutation of the train split. */
    start: count,
    end: count,
    /**
     * Queued a step ahead: parameters `version` may not exist yet. The worker gathers the rows,
     * then waits for the parameters (or hands the job back when they are long in coming).
     */
    ahead: z.boolean().optional(),
  })
  .strict()
  .refine((j) => j.end > j.start, { message: 'end must be greater than start', path: ['end'] })
  .refine((j) => j.shard < j.shards, { message: 'shard must be below shards', path: ['shard'] });
export type GradientJob = z.infer<typeof GradientJobSchema>;

export const EvaluateJobSchema = z
  .object({
    kind: z.literal('evaluate'),
    runId: id,
    /** Evaluation id: `<split>-<version>`. */
    evalId: z.string().regex(/^(validation|test|train)-\d+$/, 'must be <split>-<version>'),
    split: z.enum(['validation', 'test', 'train']),
    shard: count,
    version: count,
    /** Positions [start, end) in the split's row list. */
    start: count,
    end: count,
  })
  .strict()
  .refine((j) => j.end > j.start, { message: 'end must be greater than start', path: ['end'] });
export type EvaluateJob = z.infer<typeof EvaluateJobSchema>;

/**
 * Reduce one parameter slice of a step (sliced reduction, docs/deploy.md): sum the slice of every
 * shard's gradient in shard order, apply the optimizer with the slice's state, write the slice of
 * parameters version+1. Ranges and numbers only: the tensors stay in Redis.
 */
export const ReduceJobSchema = z
  .object({
    kind: z.literal('reduce'),
    runId: id,
    step: count,
    slice: count,
    /** Parameter indices [start, end) of the slice. */
    start: count,
    end: count,
    /** Parameter version read (the result is version + 1). */
    version: count,
    /** Learning rate of the step. */
    lr: z.number().min(0, 'must be at least 0').finite('must be finite'),
    shards: z.number().int().min(1),
    /** Rows of the step (the gradient is scaled by 1 / rows). */
    rows: z.number().int().min(1),
    /**
     * Shards of step + 1 this job queues once its slice is committed (ahead, at version step + 1),
     * so the coordinator's dispatch does not grow with the shard count.
     */
    next: z.array(z.object({ shard: count, epoch: count, start: count, end: count }).strict()).optional(),
  })
  .strict()
  .refine((j) => j.end > j.start, { message: 'end must be greater than start', path: ['end'] })
  .refine((j) => (j.next ?? []).every((n) => n.end > n.start && n.shard < j.shards), {
    message: 'each next shard needs end > start and shard below shards',
    path: ['next'],
  });
export type ReduceJob = z.infer<typeof ReduceJobSchema>;

/**
 * Second-order runs (lbfgs, hessian_free; docs/deploy.md "Second-order passes"): one distributed
 * pass per loss-and-gradient evaluation or Gauss-Newton product of an outer step, numbered `pass`
 * within step `step`. The tensors are in Redis (keys.ts soParams, soVector); a shard's result goes
 * to soResult(run, step, pass, shard), written once. Rows: positions [start, end) of the train split
 * in the permutation of `epoch`, or in split order without it (full batch).
 */
const passFields = {
  runId: id,
  step: count,
  pass: count,
  shard: count,
  shards: z.number().int().min(1),
  start: count,
  end: count,
  epoch: count.optional(),
};

/** Loss, correct count and gradient of the shard at the parameters soParams(run, step, pass). */
export const PassGradientJobSchema = z
  .object({ kind: z.literal('pass-gradient'), ...passFields })
  .strict()
  .refine((j) => j.end > j.start, { message: 'end must be greater than start', path: ['end'] })
  .refine((j) => j.shard < j.shards, { message: 'shard must be below shards', path: ['shard'] });
export type PassGradientJob = z.infer<typeof PassGradientJobSchema>;

/**
 * The Gauss-Newton-vector product G v of the shard's loss (summed over its rows, float64) at the
 * parameters soParams(run, step, point) along the direction soVector(run, step, pass).
 */
export const CurvatureJobSchema = z
  .object({ kind: z.literal('curvature'), ...passFields, point: count })
  .strict()
  .refine((j) => j.end > j.start, { message: 'end must be greater than start', path: ['end'] })
  .refine((j) => j.shard < j.shards, { message: 'shard must be below shards', path: ['shard'] });
export type CurvatureJob = z.infer<typeof CurvatureJobSchema>;

/** `<run>-o<step>x<pass>-g<shard>` or `-c<shard>`: one job per shard and pass (parses as no other kind's id). */
export function passJobId(
  kind: 'pass-gradient' | 'curvature',
  runId: string,
  step: number,
  pass: number,
  shard: number,
) {
  return `${runId}-o${step}x${pass}-${kind === 'curvature' ? 'c' : 'g'}${shard}`;
}

// discriminated on kind: a plain union reports a missing field or an unknown kind as '(root): Invalid input'
export const ShardJobSchema = z.discriminatedUnion('kind', [GradientJobSchema, EvaluateJobSchema, ReduceJobSchema]);
export type ShardJob = GradientJob | EvaluateJob | ReduceJob;

/** The second-order pass jobs (same queue; a worker tells them by kind before parsing). */
export const PassJobSchema = z.discriminatedUnion('kind', [PassGradientJobSchema, CurvatureJobSchema]);
export type PassJob = PassGradientJob | CurvatureJob;
export const PASS_JOB_KINDS: readonly string[] = ['pass-gradient', 'curvature'];

/** BullMQ job id: `<run>-<step>-<shard>` (no `:`), so a re-added job is a no-op. */
export function gradientJobId(runId: string, step: number, shard: number): string {
  return `${runId}-${step}-${shard}`;
}

/**
 * The run, evaluation and shard an evaluation job id names: `<run>-<split>-<version>-e<shard>`, or
 * a copy of it queued again after a squatted id (`-f<n>`); null for other ids.
 */
export function parseEvaluateJobId(
  jobId: string,
): { runId: string; evalId: string; shard: number; copy?: string } | null {
  const m = /^(.+)-((?:validation|test|train)-\d+)-e(\d+)(?:-(f\d+))?$/.exec(jobId);
  if (!m || !ID_PATTERN.test(m[1])) return null;
  return { runId: m[1], evalId: m[2], shard: Number(m[3]), ...(m[4] ? { copy: m[4] } : {}) };
}

/** `<run>-<step>-r<slice>`: one reduce job per slice and step. */
export function reduceJobId(runId: string, step: number, slice: number): string {
  return `${runId}-${step}-r${slice}`;
}

export function evaluateJobId(runId: string, evalId: string, shard: number): string {
  return `${runId}-${evalId}-e${shard}`;
}

/** `path: message` lines for a refused job payload. */
export function formatJobIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
}

/**
 * In the reason a worker fails a gradient job with when its payload or id is not what the run's
 * deterministic plan says for its step and shard (a job squatting one of the run's future job ids,
 * issue #24). The coordinator queues the right job again under `repairJobId` when it sees it.
 */
export const PLAN_MISMATCH = 'not in the run plan';

/** `<gradient job id>-f<n>`: the n-th correct copy of a gradient job whose id was taken by another job. */
export function repairJobId(jobId: string, n: number): string {
  return `${jobId}-f${n}`;
}

/**
 * The run, step and shard a gradient job id names: `<run>-<step>-<shard>`, or a copy of it queued
 * again (`-r<round>` by the straggler deadline, `-f<n>` after a squatted id); null for other ids.
 */
export function parseGradientJobId(
  jobId: string,
): { runId: string; step: number; shard: number; copy?: string } | null {
  const m = /^(.+)-(\d+)-(\d+)(?:-([rf]\d+))?$/.exec(jobId);
  if (!m || !ID_PATTERN.test(m[1])) return null;
  return { runId: m[1], step: Number(m[2]), shard: Number(m[3]), ...(m[4] ? { copy: m[4] } : {}) };
}

/**
 * The run, step and slice a reduce job id names: `<run>-<step>-r<slice>`, or a copy of it queued
 * again after a squatted id (`-f<n>`); null for other ids. (A gradient straggler copy
 * `<run>-<step>-<shard>-r<n>` reads as a reduce id of run `<run>-<step>`: parse gradient ids first.)
 */
export function parseReduceJobId(jobId: string): { runId: string; step: number; slice: number; copy?: string } | null {
  const m = /^(.+)-(\d+)-r(\d+)(?:-(f\d+))?$/.exec(jobId);
  if (!m || !ID_PATTERN.test(m[1])) return null;
  return { runId: m[1], step: Number(m[2]), slice: Number(m[3]), ...(m[4] ? { copy: m[4] } : {}) };
}

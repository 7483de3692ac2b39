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

// discriminated on kind: a plain union reports a missing field or an unknown kind as '(root): Invalid input'
export const ShardJobSchema = z.discriminatedUnion('kind', [GradientJobSchema, EvaluateJobSchema]);
export type ShardJob = GradientJob | EvaluateJob;

/** BullMQ job id: `<run>-<step>-<shard>` (no `:`), so a re-added job is a no-op. */
export function gradientJobId(runId: string, step: number, shard: number): string {
  return `${runId}-${step}-${shard}`;
}

export function evaluateJobId(runId: string, evalId: string, shard: number): string {
  return `${runId}-${evalId}-e${shard}`;
}

/** `path: message` lines for a refused job payload. */
export function formatJobIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
}

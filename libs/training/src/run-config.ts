import { DatasetSourceSchema } from '@nnq/data';
import { isSecondOrderType, NetworkSpecSchema, OptimizerConfigSchema, ScheduleConfigSchema } from '@nnq/nn';
import { formatIssues, ProblemsError } from '@nnq/problems';
import { jsonBoundsProblem, NameSchema } from '@nnq/protocol';
import { z } from 'zod';
import { CurvatureConfigSchema, curvatureProblems } from './curvature-signal';

const int = z.number().int('must be an integer');

export const DatasetConfigSchema = z
  .object({
    /** A libs/data source (synthetic, csv, idx, json, fashion-mnist) ... */
    source: DatasetSourceSchema.optional(),
    /** ... or the id (sha256) of a dataset already registered in Redis. */
    id: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'must be a sha256 hex id')
      .optional(),
    /** Fraction of rows held out for validation (from the training rows). */
    validation: z.number().min(0, 'must be at least 0').lt(1, 'must be below 1').default(0.1),
    /** Fraction held out for test; ignored when the dataset has an official test set. */
    test: z.number().min(0, 'must be at least 0').lt(1, 'must be below 1').default(0.1),
    preprocessing: z
      .object({
        /** 'auto' scales uint8 features by 1/255. */
        scale: z
          .union([z.literal('auto'), z.literal(false), z.number().positive('must be greater than 0')])
          .default('auto'),
        standardize: z.boolean().default(false),
      })
      .strict()
      .default({ scale: 'auto', standardize: false }),
  })
  .strict()
  .refine((d) => (d.source === undefined) !== (d.id === undefined), {
    message: 'give exactly one of source and id',
    path: ['source'],
  });

/**
 * A run: what to train, on what, how. Plain JSON, validated at every boundary (HTTP, CLI, Redis).
 * The final weights are a function of this config alone (seed included).
 */
export const RunConfigSchema = z
  .object({
    // printed by `nnq status`, parsed by strict JSON clients, shown on the dashboard
    name: NameSchema,
    seed: int.min(0, 'must be at least 0').max(0xffffffff, 'must fit in 32 bits').default(0),
    dataset: DatasetConfigSchema,
    model: NetworkSpecSchema,
    optimizer: OptimizerConfigSchema,
    schedule: ScheduleConfigSchema.default({ type: 'constant', warmupSteps: 0 }),
    /** Global minibatch size: rows per synchronous step, over all shards. */
    batchSize: int.min(1, 'must be at least 1').max(1 << 20, 'must be at most 1048576'),
    /** Shards per step: a property of the run, not of the number of workers. */
    shards: int.min(1, 'must be at least 1').max(1024, 'must be at most 1024').default(1),
    epochs: z.number().positive('must be greater than 0').max(10_000, 'must be at most 10000').optional(),
    steps: int.min(1, 'must be at least 1').max(10_000_000, 'must be at most 10000000').optional(),
    evaluation: z
      .object({
        /** Evaluate every this many steps (0: at the end of each epoch). The end of the run always evaluates. */
        every: int.min(0, 'must be at least 0').default(0),
        /** Rows per evaluation shard job. */
        rowsPerShard: int
          .min(1, 'must be at least 1')
          .max(1 << 16, 'must be at most 65536')
          .default(2048),
        /**
         * Record the top Hessian eigenvalue and a trace estimate of the training loss at each
         * evaluation (curvature-signal.ts); absent: none. Dense models only, cost capped.
         */
        curvature: CurvatureConfigSchema.optional(),
      })
      .strict()
      .default({ every: 0, rowsPerShard: 2048 }),
    checkpoint: z
      .object({ every: int.min(0, 'must be at least 0').default(0) })
      .strict()
      .default({ every: 0 }),
    /**
     * What a NaN or infinite loss or gradient, or an update that makes a parameter non-finite,
     * does: fail the run (default) or skip the step (non-finite.ts: 10 skipped in a row fail it).
     */
    onNonFinite: z.enum(['fail', 'skip']).default('fail'),
    /**
     * How a step is reduced (docs/deploy.md "Step strategies"); the weights are the same bytes every way.
     * `strategy`: "central" (the coordinator sums and updates), "sliced" (workers sum and update
     * contiguous parameter slices, `slices` of them), "replicated" (every worker sums the shard
     * gradients and updates its own copy), or "auto": sliced with more than `sliceAbove` shards and
     * `slices` > 1, else central (slices.ts stepStrategyOf).
     */
    reduce: z
      .object({
        strategy: z.enum(['auto', 'central', 'sliced', 'replicated']).default('auto'),
        slices: int.min(1, 'must be at least 1').max(256, 'must be at most 256').default(1),
        sliceAbove: int.min(0, 'must be at least 0').default(8),
      })
      .strict()
      .default({ strategy: 'auto', slices: 1, sliceAbove: 8 }),
    /**
     * Precision of the shard gradients through Redis: 'bfloat16' or 'float16' halve the bytes but
     * round each shard's gradient (deterministic for a fixed setting, not bitwise across settings).
     */
    gradientTransfer: z.enum(['float32', 'bfloat16', 'float16']).default('float32'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.evaluation.curvature) {
      for (const p of curvatureProblems(c.model, c.evaluation.curvature)) ctx.addIssue({ code: 'custom', ...p });
    }
    if ((c.epochs === undefined) === (c.steps === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['epochs'], message: 'give exactly one of epochs and steps' });
    }
    if (c.shards > c.batchSize) {
      ctx.addIssue({ code: 'custom', path: ['shards'], message: `must not exceed batchSize (${c.batchSize})` });
    }
    if (c.reduce.strategy === 'sliced' && c.reduce.slices < 2) {
      ctx.addIssue({
        code: 'custom',
        path: ['reduce', 'slices'],
        message: 'must be at least 2 with strategy "sliced"',
      });
    }
    if (c.optimizer.clipNorm !== undefined && c.reduce.slices > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['optimizer', 'clipNorm'],
        message: 'cannot be used with reduce.slices > 1 (clipping needs the global norm of the whole gradient)',
      });
    }
  });

export type RunConfigInput = z.input<typeof RunConfigSchema>;
export type RunConfig = z.output<typeof RunConfigSchema>;

/** A run config that does not validate; every problem by path. */
export class RunConfigError extends ProblemsError {
  constructor(problems: string[]) {
    super('invalid run config', problems);
  }
}

/** Validate unknown JSON as a run config; throws RunConfigError listing every problem by path. */
export function parseRunConfig(json: unknown): RunConfig {
  // a config from a file or Redis gets the same bounds as an HTTP body (the schema recurses)
  const tooBig = jsonBoundsProblem(json);
  if (tooBig) throw new RunConfigError([tooBig]);
  // lbfgs and hessian_free take whole outer steps (parseLocalRunConfig reads them, for runs only)
  const optimizerType = (json as { optimizer?: { type?: unknown } } | null)?.optimizer?.type;
  if (isSecondOrderType(optimizerType)) throw new RunConfigError([secondOrderRefused(optimizerType)]);
  const r = RunConfigSchema.safeParse(json);
  if (!r.success) throw new RunConfigError(formatIssues(r.error.issues));
  return r.data;
}

/** The refusal of a second-order optimizer where only a first-order one fits (a sweep's trials). */
export function secondOrderRefused(type: string): string {
  const where = 'a run takes it (POST /runs, nnq train), a sweep does not';
  return `optimizer.type: ${type} is a second-order optimizer: ${where}`;
}

/** JSON Schema (draft 2020-12) of the run config, published as schemas/run-config.schema.json. */
export function runConfigJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(RunConfigSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}

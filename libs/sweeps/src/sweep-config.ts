import { formatIssues, ProblemsError } from '@nnq/problems';
import { jsonBoundsProblem, quoted } from '@nnq/protocol';
import { z } from 'zod';
import {
  memoryBudgetProblems,
  parseRunConfig,
  RunConfigError,
  type MemoryBudgets,
  type RunConfig,
} from '@nnq/training';
import { missingPrefix, parsePath, setPath, type PathSegment } from './config-path';
import { gridSize } from './grid';
import { sampleRandom } from './random';
import { isCategorical, ParameterSchema, rangeProblems, type Parameter, type TrialParams } from './search-space';
import { TPE_DEFAULTS } from './tpe';

const int = z.number().int('must be an integer');

/**
 * A hyperparameter sweep: trials are runs of `base` with the `space`'s parameters set at their
 * config paths, proposed by `method`, ranked by `objective`, stopped early by `scheduler`.
 */
export const SweepConfigSchema = z
  .object({
    name: z
      .string()
      .min(1, 'must not be empty')
      .max(90, 'must be at most 90 characters')
      .regex(/^[A-Za-z0-9_.-]+$/, 'must be letters, digits, _ . -'),
    /** Seed of the sampled trials: the same seed proposes the same trials. */
    seed: int.min(0, 'must be at least 0').max(0xffffffff, 'must fit in 32 bits').default(0),
    /** A run config; every trial is this run with its parameters set. */
    base: z.record(z.string(), z.unknown()),
    /** Parameters by config path: `optimizer.lr`, `model.layers[0].units`, `batchSize`. */
    space: z
      .record(z.string(), ParameterSchema)
      .refine((s) => Object.keys(s).length > 0, 'must hold at least one parameter'),
    method: z
      .discriminatedUnion('type', [
        z.object({ type: z.literal('grid') }).strict(),
        z.object({ type: z.literal('random') }).strict(),
        z
          .object({
            type: z.literal('tpe'),
            startupTrials: int.min(0, 'must be at least 0').default(TPE_DEFAULTS.startupTrials),
            gamma: z.number().gt(0, 'must be greater than 0').lt(1, 'must be below 1').default(TPE_DEFAULTS.gamma),
            candidates: int.min(1, 'must be at least 1').max(10_000, 'must be at most 10000').default(24),
          })
          .strict(),
      ])
      .default({ type: 'random' }),
    objective: z
      .object({
        metric: z.enum(['accuracy', 'loss']),
        /** Early stopping reads validation; the leaderboard ranks by this split's best evaluation. */
        split: z.enum(['validation', 'test']).default('validation'),
        mode: z.enum(['max', 'min']),
      })
      .strict(),
    budget: z
      .object({
        maxTrials: int.min(1, 'must be at least 1').max(10_000, 'must be at most 10000'),
        maxConcurrent: int.min(1, 'must be at least 1').max(256, 'must be at most 256').default(1),
      })
      .strict(),
    scheduler: z
      .discriminatedUnion('type', [
        z.object({ type: z.literal('none') }).strict(),
        z
          .object({
            type: z.literal('asha'),
            minEpochs: z.number().positive('must be greater than 0').default(1),
            reductionFactor: int.min(2, 'must be at least 2').default(3),
          })
          .strict(),
        z
          .object({
            type: z.literal('median'),
            minEpochs: z.number().positive('must be greater than 0').default(1),
            minTrials: int.min(1, 'must be at least 1').default(3),
          })
          .strict(),
      ])
      .default({ type: 'none' }),
  })
  .strict();

export type SweepConfigInput = z.input<typeof SweepConfigSchema>;
export type ParsedSweep = z.output<typeof SweepConfigSchema>;
/** A validated sweep: the base as a parsed run config, the paths split into segments. */
export type SweepConfig = Omit<ParsedSweep, 'base'> & { base: RunConfig };

/** A sweep config that does not validate; every problem by path. */
export class SweepConfigError extends ProblemsError {
  constructor(problems: string[]) {
    super('invalid sweep config', problems);
  }
}

/** The run config of a trial: the base with each parameter set at its path, validated. */
export function trialConfig(sweep: SweepConfig, k: number, params: TrialParams): RunConfig {
  let json: unknown = sweep.base;
  for (const [path, value] of Object.entries(params)) json = setPath(json, parsePath(path), value);
  return parseRunConfig({ ...(json as object), name: `${sweep.name}-t${k}` });
}

/**
 * Validate unknown JSON as a sweep config; throws SweepConfigError listing problems by path.
 * Beyond the schema: the base is a valid run config; every space path exists in it; numeric
 * ranges are ordered; the grid is not larger than needed; and every trial config the sweep can
 * propose (each categorical value, each range end, and the first maxTrials random draws) is a
 * valid run config. For the latter, the first problem is reported by path. With `budgets`, the
 * base and those trials must also fit the memory budgets (memory-budget.ts).
 */
export function parseSweepConfig(json: unknown, budgets?: MemoryBudgets): SweepConfig {
  // before the schema, which recurses (a 20,000-deep choice value would overflow the stack)
  const tooBig = jsonBoundsProblem(json);
  if (tooBig) throw new SweepConfigError([tooBig]);
  const r = SweepConfigSchema.safeParse(json);
  if (!r.success) throw new SweepConfigError(formatIssues(r.error.issues));
  const parsed = r.data;
  let base: RunConfig;
  try {
    base = parseRunConfig({ ...parsed.base, name: `${parsed.name}-t0` });
  } catch (err) {
    if (err instanceof RunConfigError) throw new SweepConfigError(err.problems.map((p) => `base.${p}`));
    throw err;
  }
  const overBudget = budgets ? memoryBudgetProblems(base, budgets) : [];
  if (overBudget.length) throw new SweepConfigError(overBudget.map((p) => `base.${p}`));
  const sweep: SweepConfig = { ...parsed, base };
  const problems: string[] = [];
  const paths = new Map<string, PathSegment[]>();
  for (const [path, p] of Object.entries(parsed.space)) {
    const where = `space[${quoted(path)}]`;
    let segs: PathSegment[];
    try {
      segs = parsePath(path);
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
      continue;
    }
    if (segs[0] === 'name') problems.push(`${where}: the trial's name is set by the sweep`);
    const missing = missingPrefix(base, segs);
    if (missing !== null) problems.push(`${where}: ${missing} does not exist in the base config`);
    problems.push(...rangeProblems(p, where));
    paths.set(path, segs);
  }
  if (parsed.method.type === 'grid' && !Object.values(parsed.space).some(isCategorical)) {
    problems.push('method: grid needs at least one choice or grid parameter to enumerate');
  }
  if (problems.length) throw new SweepConfigError(problems);
  const first = firstInvalidTrial(sweep, budgets);
  if (first) throw new SweepConfigError([first]);
  return sweep;
}

/** Trial parameter sets to check: each value/end of each parameter (others at the base), then samples. */
function* probes(sweep: SweepConfig): Generator<{ what: string; params: TrialParams }> {
  for (const [path, p] of Object.entries(sweep.space)) {
    const values = isCategorical(p) ? p.values : [p.min, p.max];
    for (const v of values) yield { what: `${path}=${JSON.stringify(v)}`, params: { [path]: v } };
  }
  const n = Math.min(sweep.budget.maxTrials, 200);
  for (let k = 0; k < n; k++) yield { what: `trial ${k}`, params: sampleRandom(sweep.space, sweep.seed, k) };
}

function firstInvalidTrial(sweep: SweepConfig, budgets?: MemoryBudgets): string | null {
  for (const { what, params } of probes(sweep)) {
    const path = Object.keys(params).length === 1 ? Object.keys(params)[0] : undefined;
    const where = path ? `space[${quoted(path)}]` : 'space';
    let trial: RunConfig;
    try {
      trial = trialConfig(sweep, 0, params);
    } catch (err) {
      if (err instanceof RunConfigError) return `${where}: ${what} gives an invalid run config: ${err.problems[0]}`;
      throw err;
    }
    const overBudget = budgets ? memoryBudgetProblems(trial, budgets) : [];
    if (overBudget.length) return `${where}: ${what} gives a run over the memory budget: ${overBudget[0]}`;
  }
  return null;
}

/** Trials the sweep will run: maxTrials, or fewer when the grid is smaller. */
export function plannedTrials(sweep: Pick<SweepConfig, 'method' | 'space' | 'budget'>): number {
  return sweep.method.type === 'grid'
    ? Math.min(sweep.budget.maxTrials, gridSize(sweep.space as Record<string, Parameter>))
    : sweep.budget.maxTrials;
}

/** JSON Schema (draft 2020-12) of the sweep config, published as schemas/sweep-config.schema.json. */
export function sweepConfigJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(SweepConfigSchema, { io: 'input', unrepresentable: 'any' }) as {
    properties: Record<string, unknown>;
  };
  // the base is a run config: point editors at its schema
  schema.properties.base = { $ref: 'https://nnq.dev/schemas/run-config.schema.json' };
  return schema as unknown as Record<string, unknown>;
}

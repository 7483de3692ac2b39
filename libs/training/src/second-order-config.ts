import { isSecondOrderType, SecondOrderConfigSchema, type SecondOrderConfig } from '@nnq/nn';
import { formatIssues } from '@nnq/problems';
import { parseRunConfig, RunConfigError, type RunConfig } from './run-config';

/**
 * A run config, which may also name a second-order optimizer (`"optimizer": {"type": "lbfgs" |
 * "hessian_free", ...}`, libs/nn second-order): for the in-process trainer and the coordinator
 * (its SecondOrderStep). parseRunConfig, first-order only (sweeps), refuses those by name; here the
 * rest of the config is validated as usual, with plain SGD standing in for the optimizer (no
 * slots: what setupRun and the memory budget see).
 */
export interface LocalRunConfig {
  config: RunConfig;
  /** The second-order optimizer of the run, or null when `config.optimizer` is the run's own. */
  secondOrder: SecondOrderConfig | null;
}

/** The first-order optimizer in `config` of a second-order run: never applied. */
export const SECOND_ORDER_STAND_IN = { type: 'sgd', lr: 1 } as const;

/**
 * Validate unknown JSON as a run config, second-order optimizers included; throws RunConfigError
 * listing every problem by path.
 */
export function parseLocalRunConfig(json: unknown): LocalRunConfig {
  const optimizer = (json as { optimizer?: { type?: unknown } } | null)?.optimizer;
  if (!isSecondOrderType(optimizer?.type)) return { config: parseRunConfig(json), secondOrder: null };
  const problems: string[] = [];
  const so = SecondOrderConfigSchema.safeParse(optimizer);
  if (!so.success) problems.push(...formatIssues(so.error.issues, 'optimizer'));
  let config: RunConfig | null = null;
  try {
    config = parseRunConfig({ ...(json as object), optimizer: SECOND_ORDER_STAND_IN });
  } catch (err) {
    if (!(err instanceof RunConfigError)) throw err;
    problems.push(...err.problems);
  }
  // listed whether or not the rest of the config is valid
  problems.push(...reduceProblems(json, optimizer.type));
  if (problems.length || !config || !so.success) throw new RunConfigError(problems);
  return { config, secondOrder: so.data };
}

/**
 * A second-order run's steps are reduced on the coordinator whatever `reduce` says (each pass's
 * shard results summed there in shard order, apps/coordinator SecondOrderStep): a strategy that
 * names another way is refused rather than ignored. "auto" and "central" both mean that.
 */
function reduceProblems(json: unknown, type: string): string[] {
  const s = (json as { reduce?: { strategy?: unknown } }).reduce?.strategy;
  if (s !== 'sliced' && s !== 'replicated') return [];
  return [
    `reduce.strategy: "${s}" does not apply to ${type}: a second-order run sums every pass's shard results ` +
      'and takes its outer step on the coordinator; give "auto" or "central"',
  ];
}

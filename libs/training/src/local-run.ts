import { gatherBatch, loadDataset } from '@nnq/data';
import { curvatureHook } from './curvature-signal';
import { combineParts, evalRanges, evaluatePart, type Evaluation, type SplitName } from './evaluation';
import type { LocalRunOptions } from './local-trainer';
import type { RunConfig } from './run-config';
import { setupRun } from './run-setup';
import type { GatherRows, LossAndGradFn } from './shard-compute';

/** What both in-process trainers (first and second order) start from: dataset, setup, engine. */
export async function openLocalRun(config: RunConfig, options: LocalRunOptions) {
  if (!options.dataset && !config.dataset.source) {
    throw new Error('a run that names a registered dataset id needs the cluster (or pass the dataset)');
  }
  const dataset = options.dataset ?? loadDataset(config.dataset.source!);
  const setup = setupRun(config, dataset);
  const engine = await options.engine(config.model);
  const gather: GatherRows = (rows, pre) => gatherBatch(dataset, rows, pre);
  return { setup, engine, gather };
}

type LocalRun = Awaited<ReturnType<typeof openLocalRun>>;

/**
 * A trainer's evaluation of a split after step t at the given parameters, in evaluation shards;
 * evaluation.curvature's signal joins the first evaluation of a step, as the coordinator's driver
 * does. Each evaluation is pushed to `evaluations` and reported to options.onEvaluation.
 */
export function localEvaluator(
  config: RunConfig,
  { setup, engine, gather }: LocalRun,
  options: LocalRunOptions,
  evaluations: Evaluation[],
): (split: SplitName, t: number, params: Float32Array) => Promise<void> {
  const curvature = curvatureHook(config, setup);
  return async (split, t, params) => {
    const idx = setup.splits[split];
    if (idx.length === 0) return;
    const compute: LossAndGradFn = (p, x, y, n) => engine.lossAndGrad(p, x, y, n);
    const parts = [];
    for (const [s, e] of evalRanges(idx.length, config.evaluation.rowsPerShard)) {
      parts.push(await evaluatePart(gather, compute, setup.preprocessing, params, idx.subarray(s, e)));
    }
    const ev: Evaluation = { ...combineParts(split, t, parts), ...(await curvature?.once(t, params)) };
    evaluations.push(ev);
    options.onEvaluation?.(ev);
  };
}

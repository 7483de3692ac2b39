import type { Dataset } from '@nnq/data';
import type { NetworkSpec } from '@nnq/nn';
import type { FitCurve } from '@nnq/protocol';
import { predictRows, type PredictModel } from './predict';

/** Most points of a fit curve: enough for a smooth line, small in every history entry. */
export const FIT_CURVE_POINTS = 200;

/** Fit curves one run's history holds: at most one per 1/MAX_FIT_CURVES of its steps, and the last. */
export const MAX_FIT_CURVES = 100;

/**
 * Whether the evaluation after step `version` (of `total`) gets a fit curve, the last one having
 * been drawn after step `last`: the final evaluation always, others a 1/MAX_FIT_CURVES of the run
 * apart, so a run evaluated every step still keeps at most MAX_FIT_CURVES + 1 curves.
 */
export function fitCurveDue(version: number, total: number, last: number): boolean {
  return version >= total || version - last >= total / MAX_FIT_CURVES;
}

/** The fixed inputs of a run's fit curve, with their targets (raw units, ascending x). */
export interface FitCurveGrid {
  x: number[];
  target: number[];
}

/**
 * A 1-D regression run (one input, one output, numeric targets) gets a fit curve: its rows sorted
 * by x, at most FIT_CURVE_POINTS of them evenly picked; fixed at set-up, so every evaluation draws
 * the prediction on the same x. Undefined for every other run.
 */
export function fitCurveGrid(spec: NetworkSpec, dataset: Dataset): FitCurveGrid | undefined {
  const { x, targets, rows } = dataset;
  if (spec.inputSize !== 1 || dataset.features !== 1 || targets.kind !== 'values' || targets.width !== 1) return;
  if (rows === 0) return;
  const order = Array.from({ length: rows }, (_, i) => i).sort((a, b) => x[a] - x[b] || a - b);
  const n = Math.min(FIT_CURVE_POINTS, rows);
  const picked = Array.from({ length: n }, (_, k) => order[n === 1 ? 0 : Math.round((k * (rows - 1)) / (n - 1))]);
  return { x: picked.map((i) => x[i]), target: picked.map((i) => targets.data[i]) };
}

/** The model's prediction on the grid (the recorded preprocessing applied, as in predict). */
export function fitCurve(grid: FitCurveGrid, model: PredictModel): FitCurve {
  const { outputs } = predictRows(
    model,
    grid.x.map((v) => [v]),
  );
  return { x: grid.x, target: grid.target, prediction: outputs.map((o) => o[0]) };
}

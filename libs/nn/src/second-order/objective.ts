/**
 * What the second-order optimizers are driven by: callbacks over float64 parameter vectors, so
 * the optimizers stay pure code and the caller decides where the passes run (libs/nn in
 * float64, an engine in float32, one batch or a fixed large batch per outer step).
 */

/** A value now or later: the callbacks may be synchronous or return promises. */
export type MaybePromise<T> = T | Promise<T>;

export interface LossGrad {
  /** J at the parameters (its scale is the caller's: summed or a mean). */
  loss: number;
  /** dJ/dparams, a vector the optimizer may keep. */
  grad: Float64Array;
}

export interface Objective {
  /** J and dJ/dparams at `params` (one loss-and-gradient pass over the step's batch). */
  lossAndGrad(params: Float64Array): MaybePromise<LossGrad>;
  /** J alone at `params` (a forward pass); defaults to lossAndGrad's loss. */
  loss?(params: Float64Array): MaybePromise<number>;
}

export interface CurvatureObjective extends Objective {
  /**
   * The Gauss-Newton product v -> G v at `params` on the same batch, the point fixed once for
   * many products (each product is one pass).
   */
  curvatureAt(params: Float64Array): MaybePromise<(v: Float64Array) => MaybePromise<Float64Array>>;
}

/** The outcome of one outer step of a second-order optimizer. */
export interface OuterStep {
  /** J at the parameters after the step (before it when the step was rejected). */
  loss: number;
  /** Loss-and-gradient (or loss) passes the step made. */
  evaluations: number;
  /** Curvature products the step made. */
  products: number;
  /** Set when the optimizer cannot go on: why, in words (the parameters are the last good ones). */
  stop?: string;
  /** With stop: the loss or gradient at the parameters was NaN or infinite (a run fails on it). */
  nonFinite?: true;
}

export function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function allFinite(v: Float64Array): boolean {
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) return false;
  return true;
}

/** out = a + t d. */
export function axpy(out: Float64Array, a: Float64Array, t: number, d: Float64Array): Float64Array {
  for (let i = 0; i < a.length; i++) out[i] = a[i] + t * d[i];
  return out;
}

export async function lossOnly(obj: Objective, p: Float64Array): Promise<number> {
  return obj.loss ? obj.loss(p) : (await obj.lossAndGrad(p)).loss;
}

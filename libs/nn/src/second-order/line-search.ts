import { allFinite, axpy, dot, type LossGrad, type Objective } from './objective';

/**
 * Strong-Wolfe line search (Nocedal & Wright 2006, Algorithms 3.5 and 3.6: bracket, then zoom
 * with safeguarded cubic interpolation). Along a descent direction d from x with phi(t) = J(x + t d):
 *   sufficient decrease  phi(t) <= phi(0) + c1 t phi'(0)
 *   curvature            |phi'(t)| <= c2 |phi'(0)|
 * A non-finite loss or gradient counts as a failed sufficient decrease (the step is too long).
 */

export interface LineSearchResult {
  /** The accepted step length (0 when none decreased J). */
  t: number;
  /** J and gradient at x + t d (those at x when t = 0). */
  at: LossGrad;
  evaluations: number;
  /** Why no strong-Wolfe point was found, when none was (a decrease may still have been accepted). */
  failure?: string;
}

interface Point {
  t: number;
  f: number;
  /** phi'(t) = grad(x + t d) . d */
  dg: number;
  at: LossGrad | null;
}

/** Minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped to [lo, hi]; bisection if it has none. */
function cubicMin(a: Point, b: Point, lo: number, hi: number): number {
  if (!Number.isFinite(a.f) || !Number.isFinite(b.f) || !Number.isFinite(a.dg) || !Number.isFinite(b.dg)) {
    return (lo + hi) / 2;
  }
  const d1 = a.dg + b.dg - (3 * (a.f - b.f)) / (a.t - b.t);
  const d2sq = d1 * d1 - a.dg * b.dg;
  if (!(d2sq >= 0)) return (lo + hi) / 2;
  const d2 = Math.sqrt(d2sq);
  const t =
    a.t <= b.t
      ? b.t - (b.t - a.t) * ((b.dg + d2 - d1) / (b.dg - a.dg + 2 * d2))
      : a.t - (a.t - b.t) * ((a.dg + d2 - d1) / (a.dg - b.dg + 2 * d2));
  return Number.isFinite(t) ? Math.min(Math.max(t, lo), hi) : (lo + hi) / 2;
}

export async function strongWolfe(
  obj: Objective,
  x: Float64Array,
  d: Float64Array,
  start: LossGrad,
  t0: number,
  opts: { c1: number; c2: number; maxEvaluations: number },
): Promise<LineSearchResult> {
  const { c1, c2, maxEvaluations } = opts;
  const f0 = start.loss;
  const dg0 = dot(start.grad, d);
  const trial = new Float64Array(x.length);
  let evaluations = 0;
  const evaluate = async (t: number): Promise<Point> => {
    evaluations++;
    const at = await obj.lossAndGrad(axpy(trial, x, t, d));
    const ok = Number.isFinite(at.loss) && allFinite(at.grad);
    // copy: the objective may reuse its buffers
    return ok
      ? { t, f: at.loss, dg: dot(at.grad, d), at: { loss: at.loss, grad: at.grad.slice() } }
      : { t, f: Infinity, dg: NaN, at: null };
  };
  const armijo = (p: Point) => p.f <= f0 + c1 * p.t * dg0;
  const wolfe = (p: Point) => Math.abs(p.dg) <= -c2 * dg0;

  let prev: Point = { t: 0, f: f0, dg: dg0, at: start };
  let t = t0;
  let lo: Point | null = null;
  let hi: Point | null = null;
  // bracketing phase: grow t until the interval [prev, cur] holds a strong-Wolfe point
  while (evaluations < maxEvaluations) {
    const cur = await evaluate(t);
    if (!armijo(cur) || (evaluations > 1 && cur.f >= prev.f)) {
      [lo, hi] = [prev, cur];
      break;
    }
    if (wolfe(cur)) return { t, at: cur.at!, evaluations };
    if (cur.dg >= 0) {
      [lo, hi] = [cur, prev];
      break;
    }
    const next = cubicMin(prev, cur, t + 0.01 * (t - prev.t), 10 * t);
    prev = cur;
    t = next;
  }
  if (!lo || !hi) return settle(prev, start, evaluations, `no bracket in ${maxEvaluations} evaluations`, f0);
  // zoom: shrink [lo, hi] keeping lo the best point satisfying sufficient decrease
  while (evaluations < maxEvaluations) {
    const a = Math.min(lo.t, hi.t);
    const b = Math.max(lo.t, hi.t);
    if (b - a < 1e-12 * Math.max(1, b)) break;
    let tz = cubicMin(lo, hi, a, b);
    // safeguard: stay a tenth of the interval away from its ends
    const margin = 0.1 * (b - a);
    if (tz < a + margin || tz > b - margin) tz = (a + b) / 2;
    const cur = await evaluate(tz);
    if (!armijo(cur) || cur.f >= lo.f) {
      hi = cur;
    } else {
      if (wolfe(cur)) return { t: cur.t, at: cur.at!, evaluations };
      if (cur.dg * (hi.t - lo.t) >= 0) hi = lo;
      lo = cur;
    }
  }
  return settle(lo, start, evaluations, `no strong-Wolfe point in ${maxEvaluations} evaluations`, f0);
}

/** Without a strong-Wolfe point: keep the best point found if it decreased J, else report t = 0. */
function settle(best: Point, start: LossGrad, evaluations: number, why: string, f0: number): LineSearchResult {
  if (best.t > 0 && best.at && best.f < f0) return { t: best.t, at: best.at, evaluations, failure: why };
  return { t: 0, at: start, evaluations, failure: why };
}

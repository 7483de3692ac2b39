import { z } from 'zod';
import { allFinite, axpy, dot, lossOnly, type CurvatureObjective, type OuterStep } from './objective';

/**
 * Hessian-free optimisation (Martens 2010, "Deep learning via Hessian-free optimization"): each
 * outer step minimises the damped quadratic model
 *   q(d) = g.d + 1/2 d.(G + lambda I) d       G the Gauss-Newton matrix (G v by the R-operator)
 * by truncated conjugate gradient, warm-started from decay * the previous step's d, stopped by
 * Martens' relative-progress test, then
 *   - CG backtracking: of the iterates kept at i = ceil(1.3^j), walk back from the last while J falls;
 *   - Levenberg-Marquardt damping from rho = (J(x + d) - J(x)) / (q0(d) - q0(0)) (q0: undamped):
 *     rho < 1/4: lambda *= 3/2,  rho > 3/4: lambda *= 2/3;
 *   - Armijo backtracking along d (t *= 0.8) when J(x + d) is no better than J(x).
 */

const positive = z.number().positive('must be greater than 0').finite('must be finite');
const int = z.number().int('must be an integer');

export const HessianFreeConfigSchema = z
  .object({
    type: z.literal('hessian_free'),
    /** lambda of the first step. */
    damping: positive.default(1),
    /** Gauss-Newton products one CG solve may make. */
    maxCgIterations: int.min(1, 'must be at least 1').max(1000, 'must be at most 1000').default(100),
    /** epsilon of Martens' stopping test: stop when the relative progress over k iterations is below k epsilon. */
    cgTolerance: positive.lt(1, 'must be less than 1').default(5e-4),
    /** Warm start: the next CG starts from decay * this step's d. */
    decay: z.number().min(0, 'must be at least 0').max(1, 'must be at most 1').default(0.95),
    /** Steps in a row without a decrease of J before the optimizer stops. */
    maxRejected: int.min(1, 'must be at least 1').max(100, 'must be at most 100').default(10),
  })
  .strict();
export type HessianFreeConfig = z.output<typeof HessianFreeConfigSchema>;

/** Everything Hessian-free carries between outer steps (serialisable: state-file.ts). */
export interface HessianFreeState {
  type: 'hessian_free';
  step: number;
  damping: number;
  /** The last step's CG solution (warm start), empty before the first step. */
  direction: Float64Array;
  /** Outer steps in a row that did not decrease J. */
  rejected: number;
}

export function createHessianFreeState(config: HessianFreeConfig): HessianFreeState {
  return { type: 'hessian_free', step: 0, damping: config.damping, direction: new Float64Array(0), rejected: 0 };
}

const ARMIJO = 0.01;
const SHRINK = 0.8;
const MAX_SHRINKS = 30;

/** One outer Hessian-free step; params are updated in place. */
export async function hessianFreeStep(
  config: HessianFreeConfig,
  params: Float64Array,
  state: HessianFreeState,
  obj: CurvatureObjective,
): Promise<OuterStep> {
  const n = params.length;
  const at = await obj.lossAndGrad(params);
  const f0 = at.loss;
  const g = at.grad.slice();
  let evaluations = 1;
  let products = 0;
  const out = (loss: number, stop?: string): OuterStep => ({ loss, evaluations, products, ...(stop ? { stop } : {}) });
  if (!Number.isFinite(f0) || !allFinite(g)) {
    return {
      ...out(f0, `hessian_free: the loss or gradient at the parameters is not finite (loss ${f0})`),
      nonFinite: true,
    };
  }
  const G = await obj.curvatureAt(params);
  const lambda = state.damping;
  const Av = async (v: Float64Array) => {
    products++;
    const gv = await G(v);
    const r = new Float64Array(n);
    for (let i = 0; i < n; i++) r[i] = gv[i] + lambda * v[i];
    return r;
  };

  // ---- truncated CG on (G + lambda I) d = -g, phi(d) = 1/2 d.A d + g.d = 1/2 (g.d - d.r) with r = -g - A d
  const x = new Float64Array(n);
  const r = new Float64Array(n);
  for (let i = 0; i < n; i++) r[i] = -g[i];
  if (state.direction.length === n && config.decay > 0) {
    const x0 = state.direction.map((v) => config.decay * v);
    const Ax0 = await Av(x0);
    const r0 = Float64Array.from(g, (gi, i) => -gi - Ax0[i]);
    // keep the warm start only where it beats d = 0
    if (0.5 * (dot(g, x0) - dot(x0, r0)) < 0) {
      x.set(x0);
      r.set(r0);
    }
  }
  const p = r.slice();
  let rr = dot(r, r);
  const phis: number[] = [];
  const kept: { i: number; d: Float64Array }[] = [];
  let nextKeep = 1;
  let keepPower = 0;
  let cgFailure = '';
  for (let i = 1; i <= config.maxCgIterations && rr > 0; i++) {
    const Ap = await Av(p);
    const pAp = dot(p, Ap);
    if (!(pAp > 0) || !Number.isFinite(pAp)) {
      cgFailure = `curvature p.(G + lambda I)p = ${pAp} at CG iteration ${i} is not positive and finite`;
      break;
    }
    const alpha = rr / pAp;
    axpy(x, x, alpha, p);
    axpy(r, r, -alpha, Ap);
    const rrNew = dot(r, r);
    const phi = 0.5 * (dot(g, x) - dot(x, r));
    phis.push(phi);
    if (i >= nextKeep) {
      kept.push({ i, d: x.slice() });
      while (nextKeep <= i) nextKeep = Math.ceil(1.3 ** ++keepPower);
    }
    // Martens' test: relative progress over the last k = max(10, i/10) iterations below k epsilon
    const k = Math.max(10, Math.ceil(0.1 * i));
    if (i > k && phi < 0 && (phi - phis[i - 1 - k]) / phi < k * config.cgTolerance) break;
    const beta = rrNew / rr;
    for (let j = 0; j < n; j++) p[j] = r[j] + beta * p[j];
    rr = rrNew;
  }
  if (kept.length === 0 || kept[kept.length - 1].i !== phis.length) kept.push({ i: phis.length, d: x.slice() });
  if (!allFinite(x)) return out(f0, `hessian_free CG failed at step ${state.step}: the solution is not finite`);
  if (phis.length === 0) {
    return out(f0, `hessian_free CG failed at step ${state.step}: ${cgFailure || 'no iteration (zero gradient)'}`);
  }

  // ---- CG backtracking: the last iterate, then earlier ones while J keeps falling
  const trial = new Float64Array(n);
  let best = kept.length - 1;
  let fBest = await lossOnly(obj, axpy(trial, params, 1, kept[best].d));
  evaluations++;
  for (let j = kept.length - 2; j >= 0; j--) {
    const f = await lossOnly(obj, axpy(trial, params, 1, kept[j].d));
    evaluations++;
    if (!(f < fBest)) break;
    fBest = f;
    best = j;
  }
  const d = kept[best].d;
  if (!Number.isFinite(fBest)) fBest = Infinity;

  // ---- Levenberg-Marquardt: reduction ratio against the undamped model q0(d) = g.d + 1/2 d.G d
  const Gd = await G(d);
  products++;
  const q0 = dot(g, d) + 0.5 * dot(d, Gd);
  const rho = q0 < 0 ? (fBest - f0) / q0 : -Infinity;
  if (rho < 0.25) state.damping = lambda * 1.5;
  else if (rho > 0.75) state.damping = lambda * (2 / 3);
  state.direction = d;

  // ---- Armijo backtracking along d
  const gd = dot(g, d);
  let t = 1;
  let f = fBest;
  for (let s = 0; s < MAX_SHRINKS && !(f <= f0 + ARMIJO * t * gd && f < f0); s++) {
    t *= SHRINK;
    f = await lossOnly(obj, axpy(trial, params, t, d));
    evaluations++;
  }
  if (!(f < f0) || !(gd < 0)) {
    state.rejected++;
    state.step++;
    if (state.rejected >= config.maxRejected) {
      const why = cgFailure ? `; CG: ${cgFailure}` : '';
      return out(
        f0,
        `hessian_free: no decrease of J in ${state.rejected} steps in a row (damping ${state.damping})${why}`,
      );
    }
    return out(f0);
  }
  axpy(params, params, t, d);
  state.rejected = 0;
  state.step++;
  return out(f);
}

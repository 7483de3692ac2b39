import { z } from 'zod';
import { strongWolfe } from './line-search';
import { allFinite, axpy, dot, type LossGrad, type Objective, type OuterStep } from './objective';

/**
 * L-BFGS (Nocedal 1980; Liu & Nocedal 1989): a quasi-Newton step d = -H g, H the inverse-Hessian
 * estimate of the last m pairs s = x(k+1) - x(k), y = g(k+1) - g(k) (two-loop recursion), then a
 * strong-Wolfe line search along d (line-search.ts). One outer step per call; each line-search
 * evaluation is one loss-and-gradient pass over the step's batch (the whole training set, or a
 * fixed large batch per outer step).
 */

const positive = z.number().positive('must be greater than 0').finite('must be finite');
const int = z.number().int('must be an integer');

export const LbfgsConfigSchema = z
  .object({
    type: z.literal('lbfgs'),
    /** m: curvature pairs kept. */
    history: int.min(1, 'must be at least 1').max(100, 'must be at most 100').default(10),
    /** Sufficient-decrease and curvature constants of the strong Wolfe conditions, 0 < c1 < c2 < 1. */
    c1: positive.lt(1, 'must be less than 1').default(1e-4),
    c2: positive.lt(1, 'must be less than 1').default(0.9),
    /** Loss-and-gradient passes one line search may make. */
    maxLineSearch: int.min(1, 'must be at least 1').max(100, 'must be at most 100').default(25),
    /** Converged (the run stops) when max |g_i| is at most this. */
    gradTolerance: z.number().min(0, 'must be at least 0').default(1e-12),
  })
  .strict()
  .refine((c) => c.c1 < c.c2, { message: 'c1 must be less than c2', path: ['c1'] });
export type LbfgsConfig = z.output<typeof LbfgsConfigSchema>;

/** Everything L-BFGS carries between outer steps (serialisable: state-file.ts). */
export interface LbfgsState {
  type: 'lbfgs';
  /** Outer steps taken. */
  step: number;
  /** The last m pairs, oldest first. */
  s: Float64Array[];
  y: Float64Array[];
  /** J and gradient at the current parameters on the last step's batch (grad empty before the first step). */
  loss: number;
  grad: Float64Array;
}

export function createLbfgsState(): LbfgsState {
  return { type: 'lbfgs', step: 0, s: [], y: [], loss: NaN, grad: new Float64Array(0) };
}

/** d = -H g by the two-loop recursion, H0 = gamma I with gamma = s.y / y.y of the newest pair. */
export function lbfgsDirection(state: LbfgsState, g: Float64Array): Float64Array {
  const q = g.slice();
  const m = state.s.length;
  const alpha = new Float64Array(m);
  const rho = state.s.map((s, i) => 1 / dot(state.y[i], s));
  for (let i = m - 1; i >= 0; i--) {
    alpha[i] = rho[i] * dot(state.s[i], q);
    axpy(q, q, -alpha[i], state.y[i]);
  }
  const gamma = m > 0 ? dot(state.s[m - 1], state.y[m - 1]) / dot(state.y[m - 1], state.y[m - 1]) : 1;
  for (let i = 0; i < q.length; i++) q[i] *= gamma;
  for (let i = 0; i < m; i++) {
    const beta = rho[i] * dot(state.y[i], q);
    axpy(q, q, alpha[i] - beta, state.s[i]);
  }
  for (let i = 0; i < q.length; i++) q[i] = -q[i];
  return q;
}

/**
 * One outer L-BFGS step: params are updated in place. `sameBatch`: the step's batch is the one
 * state.loss and state.grad were computed on (full batch), so they are reused.
 */
export async function lbfgsStep(
  config: LbfgsConfig,
  params: Float64Array,
  state: LbfgsState,
  obj: Objective,
  sameBatch: boolean,
): Promise<OuterStep> {
  let evaluations = 0;
  let here: LossGrad = { loss: state.loss, grad: state.grad };
  if (!sameBatch || state.grad.length !== params.length) {
    const at = await obj.lossAndGrad(params);
    here = { loss: at.loss, grad: at.grad.slice() };
    evaluations++;
  }
  const done = (stop?: string): OuterStep => ({ loss: here.loss, evaluations, products: 0, ...(stop ? { stop } : {}) });
  if (!Number.isFinite(here.loss) || !allFinite(here.grad)) {
    return {
      ...done(`lbfgs: the loss or gradient at the parameters is not finite (loss ${here.loss})`),
      nonFinite: true,
    };
  }
  state.loss = here.loss;
  state.grad = here.grad;
  const gmax = here.grad.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  if (gmax <= config.gradTolerance) return done(`lbfgs converged: max |gradient| ${gmax} <= ${config.gradTolerance}`);

  let d = lbfgsDirection(state, here.grad);
  if (!(dot(d, here.grad) < 0)) {
    // not a descent direction (stale pairs from another batch): start the history again
    state.s = [];
    state.y = [];
    d = lbfgsDirection(state, here.grad);
  }
  // the first step has no scale yet: a unit step in parameter space at most (PyTorch's choice)
  const l1 = here.grad.reduce((s, v) => s + Math.abs(v), 0);
  const t0 = state.s.length === 0 ? Math.min(1, 1 / l1) : 1;
  const ls = await strongWolfe(obj, params, d, here, t0, {
    c1: config.c1,
    c2: config.c2,
    maxEvaluations: config.maxLineSearch,
  });
  evaluations += ls.evaluations;
  if (ls.t === 0) {
    // at J near the precision of the passes this is convergence in all but name: J says which
    return done(`lbfgs line search failed at step ${state.step}: ${ls.failure} (no decrease of J = ${here.loss})`);
  }

  const s = new Float64Array(params.length);
  for (let i = 0; i < s.length; i++) {
    const next = params[i] + ls.t * d[i];
    s[i] = next - params[i];
    params[i] = next;
  }
  const y = new Float64Array(params.length);
  for (let i = 0; i < y.length; i++) y[i] = ls.at.grad[i] - here.grad[i];
  // keep the pair only with positive curvature s.y (strong Wolfe ensures it up to rounding)
  if (dot(s, y) > 1e-10 * dot(y, y)) {
    state.s.push(s);
    state.y.push(y);
    if (state.s.length > config.history) {
      state.s.shift();
      state.y.shift();
    }
  }
  here = ls.at;
  state.loss = here.loss;
  state.grad = here.grad;
  state.step++;
  return done();
}

/**
 * One optimizer on one problem from one initialisation, until a budget of wall time or passes
 * runs out, a target loss is reached or the optimizer stops: the loss curve against both.
 */
import {
  createHessianFreeState,
  createLbfgsState,
  createOptimizerState,
  HessianFreeConfigSchema,
  hessianFreeStep,
  LbfgsConfigSchema,
  lbfgsStep,
  lossAndGrad,
  parseOptimizerConfig,
  step,
  type OptimizerConfigInput,
} from '@nnq/nn';
import { objective, type Problem } from './problems';

export const OPTIMIZERS = ['adam', 'momentum', 'lbfgs', 'hessian_free'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

/** First-order settings per problem (the learning rates were picked from 1e-3..1e-1 by hand, best of a few). */
const FIRST_ORDER: Record<string, Record<'adam' | 'momentum', OptimizerConfigInput>> = {
  'xor 2-2-1 relu': { adam: { type: 'adam', lr: 0.02 }, momentum: { type: 'momentum', lr: 0.02, momentum: 0.9 } },
  'xor 2-8-1 tanh': { adam: { type: 'adam', lr: 0.02 }, momentum: { type: 'momentum', lr: 0.02, momentum: 0.9 } },
  sine: { adam: { type: 'adam', lr: 0.01 }, momentum: { type: 'momentum', lr: 0.05, momentum: 0.9 } },
  spirals: { adam: { type: 'adam', lr: 0.01 }, momentum: { type: 'momentum', lr: 0.1, momentum: 0.9 } },
};

export const SECOND_ORDER = {
  lbfgs: LbfgsConfigSchema.parse({ type: 'lbfgs', history: 20 }),
  hessian_free: HessianFreeConfigSchema.parse({
    type: 'hessian_free',
    damping: 0.01,
    maxCgIterations: 250,
    cgTolerance: 1e-6,
  }),
};

export function settingsOf(problem: string, name: OptimizerName): unknown {
  return name === 'adam' || name === 'momentum' ? FIRST_ORDER[problem][name] : SECOND_ORDER[name];
}

export interface Point {
  ms: number;
  passes: number;
  loss: number;
}

export interface Trace {
  curve: Point[];
  /** When the loss first went below the target, if it did. */
  reached: Point | null;
  stop?: string;
}

export interface Budget {
  seconds: number;
  passes: number;
  target?: number;
}

export async function runOne(problem: Problem, name: OptimizerName, p0: Float64Array, budget: Budget): Promise<Trace> {
  const obj = objective(problem);
  const curve: Point[] = [];
  const t0 = performance.now();
  let reached: Point | null = null;
  let stop: string | undefined;
  const record = (loss: number): boolean => {
    const pt = { ms: performance.now() - t0, passes: obj.passes, loss };
    curve.push(pt);
    if (!reached && budget.target !== undefined && loss < budget.target) reached = pt;
    return reached !== null || pt.ms > budget.seconds * 1000 || pt.passes >= budget.passes;
  };
  if (name === 'adam' || name === 'momentum') {
    // the project's update (libs/nn step) over float32 parameters, as a run would do it
    const config = parseOptimizerConfig(FIRST_ORDER[problem.name][name]);
    const params = Float32Array.from(p0);
    const state = createOptimizerState(config, params.length);
    const x = Float32Array.from(problem.x);
    const y = Float32Array.from(problem.y);
    const grad = new Float32Array(params.length);
    record(obj.lossAndGrad(p0).loss);
    for (;;) {
      const r = lossAndGrad(problem.spec, params, x, y, problem.rows, grad);
      obj.passes++;
      if (!Number.isFinite(r.loss)) {
        stop = `non-finite loss ${r.loss}`;
        break;
      }
      if (record(r.loss * problem.scale)) break;
      step(params, grad, state, config, config.lr, { gradScale: problem.scale });
    }
    return { curve, reached, stop };
  }
  const params = p0.slice();
  const first = obj.lossAndGrad(params);
  if (record(first.loss)) return { curve, reached };
  if (name === 'lbfgs') {
    const state = createLbfgsState();
    state.loss = first.loss;
    state.grad = first.grad.slice();
    for (;;) {
      const r = await lbfgsStep(SECOND_ORDER.lbfgs, params, state, obj, true);
      stop = r.stop;
      if (record(r.loss) || stop) break;
    }
  } else {
    const state = createHessianFreeState(SECOND_ORDER.hessian_free);
    for (;;) {
      const r = await hessianFreeStep(SECOND_ORDER.hessian_free, params, state, obj);
      stop = r.stop;
      if (record(r.loss) || stop) break;
    }
  }
  return { curve, reached, stop };
}

/** The loss of a curve at a moment (the last point at or before it; the first point before any). */
export function lossAt(curve: Point[], key: 'ms' | 'passes', at: number): number {
  let loss = curve[0].loss;
  for (const p of curve) {
    if (p[key] > at) break;
    loss = p.loss;
  }
  return loss;
}

import { describe, expect, it } from 'vitest';
import { createHessianFreeState, HessianFreeConfigSchema, hessianFreeStep } from './hessian-free';
import { createLbfgsState, LbfgsConfigSchema, lbfgsStep, type LbfgsState } from './lbfgs';
import type { CurvatureObjective, OuterStep } from './objective';
import { deserializeSecondOrderState, serializeSecondOrderState } from './state-file';

/**
 * L-BFGS and Hessian-free on Rosenbrock's function as least squares, with its gradient and
 * Gauss-Newton product written by hand: r = (10 (y - x^2), 1 - x), J = 1/2 |r|^2 (minimum 0 at (1, 1)),
 * Jr = [[-20 x, 10], [-1, 0]], grad = Jr^T r, G v = Jr^T Jr v.
 */
function rosenbrock(counter = { passes: 0 }): CurvatureObjective {
  const jac = (p: Float64Array) => [
    [-20 * p[0], 10],
    [-1, 0],
  ];
  return {
    lossAndGrad(p) {
      counter.passes++;
      const r = [10 * (p[1] - p[0] * p[0]), 1 - p[0]];
      const J = jac(p);
      const grad = Float64Array.from([0, 1], (i) => J[0][i] * r[0] + J[1][i] * r[1]);
      return { loss: 0.5 * (r[0] * r[0] + r[1] * r[1]), grad };
    },
    curvatureAt(p) {
      const J = jac(p);
      return (v) => {
        const jv = [J[0][0] * v[0] + J[0][1] * v[1], J[1][0] * v[0] + J[1][1] * v[1]];
        return Float64Array.from([0, 1], (i) => J[0][i] * jv[0] + J[1][i] * jv[1]);
      };
    },
  };
}

const START = [-1.2, 1];

describe('L-BFGS', () => {
  const config = LbfgsConfigSchema.parse({ type: 'lbfgs' });

  it('reaches J < 1e-20 on Rosenbrock from (-1.2, 1), each step decreasing J', async () => {
    const p = Float64Array.from(START);
    const state = createLbfgsState();
    let last = Infinity;
    let r: OuterStep = { loss: Infinity, evaluations: 0, products: 0 };
    for (let k = 0; k < 100 && !r.stop; k++) {
      r = await lbfgsStep(config, p, state, rosenbrock(), true);
      if (!r.stop) expect(r.loss).toBeLessThan(last);
      last = r.loss;
    }
    expect(last).toBeLessThan(1e-20);
    expect(p[0]).toBeCloseTo(1, 9);
    expect(p[1]).toBeCloseTo(1, 9);
  });

  it('resumes from its serialised state to the same bytes as an uninterrupted run', async () => {
    const run = async (split: boolean) => {
      const p = Float64Array.from(START);
      let state: LbfgsState = createLbfgsState();
      for (let k = 0; k < 12; k++) {
        if (split && k === 6) state = deserializeSecondOrderState(serializeSecondOrderState(state)) as LbfgsState;
        await lbfgsStep(config, p, state, rosenbrock(), true);
      }
      return Buffer.from(p.buffer).toString('hex');
    };
    expect(await run(true)).toBe(await run(false));
  });

  it('stops with a reason, parameters untouched, when the loss is not finite', async () => {
    const p = Float64Array.from(START);
    const bad = { lossAndGrad: () => ({ loss: NaN, grad: new Float64Array(2) }) };
    const r = await lbfgsStep(config, p, createLbfgsState(), bad, true);
    expect(r.stop).toMatch(/lbfgs: the loss or gradient at the parameters is not finite/);
    expect(r.nonFinite).toBe(true);
    expect(Array.from(p)).toEqual(START);
  });

  it('stops with a reason when the line search finds no decrease (a gradient of the wrong sign)', async () => {
    const p = Float64Array.from(START);
    const ros = rosenbrock();
    const wrong = {
      lossAndGrad: (q: Float64Array) => {
        const r = ros.lossAndGrad(q) as { loss: number; grad: Float64Array };
        return { loss: r.loss, grad: r.grad.map((v) => -v) };
      },
    };
    const r = await lbfgsStep(config, p, createLbfgsState(), wrong, true);
    expect(r.stop).toMatch(/lbfgs line search failed at step 0: .* \(no decrease of J = [\d.e+-]+\)/);
    expect(Array.from(p)).toEqual(START);
  });

  it('refuses bad settings by field', () => {
    const r = LbfgsConfigSchema.safeParse({ type: 'lbfgs', history: 0, c1: 0.95 });
    expect(r.success).toBe(false);
    const paths = r.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['history', 'c1']));
  });
});

describe('Hessian-free', () => {
  const config = HessianFreeConfigSchema.parse({ type: 'hessian_free' });

  it('reaches J < 1e-20 on Rosenbrock from (-1.2, 1) with Gauss-Newton products', async () => {
    const p = Float64Array.from(START);
    const state = createHessianFreeState(config);
    let r: OuterStep = { loss: Infinity, evaluations: 0, products: 0 };
    let products = 0;
    for (let k = 0; k < 60 && !(r.loss < 1e-20); k++) {
      r = await hessianFreeStep(config, p, state, rosenbrock());
      products += r.products;
      expect(r.stop).toBeUndefined();
    }
    expect(r.loss).toBeLessThan(1e-20);
    expect(products).toBeGreaterThan(0);
    expect(p[0]).toBeCloseTo(1, 9);
  });

  it('resumes from its serialised state to the same bytes as an uninterrupted run', async () => {
    const run = async (split: boolean) => {
      const p = Float64Array.from(START);
      let state = createHessianFreeState(config);
      for (let k = 0; k < 8; k++) {
        if (split && k === 4) state = deserializeSecondOrderState(serializeSecondOrderState(state)) as typeof state;
        await hessianFreeStep(config, p, state, rosenbrock());
      }
      return Buffer.from(p.buffer).toString('hex');
    };
    expect(await run(true)).toBe(await run(false));
  });

  it('stops with a reason when CG meets curvature that is not finite, never a NaN parameter', async () => {
    const p = Float64Array.from(START);
    const ros = rosenbrock();
    const nanCurvature: CurvatureObjective = { ...ros, curvatureAt: () => (v) => v.map(() => NaN) };
    const r = await hessianFreeStep(config, p, createHessianFreeState(config), nanCurvature);
    expect(r.stop).toMatch(/hessian_free CG failed at step 0: curvature p\.\(G \+ lambda I\)p = NaN .* not positive/);
    expect(Array.from(p)).toEqual(START);
  });

  it('stops after maxRejected steps without a decrease', async () => {
    const cfg = HessianFreeConfigSchema.parse({ type: 'hessian_free', maxRejected: 3 });
    const p = Float64Array.from(START);
    const ros = rosenbrock();
    // a loss that rises whatever the step: every step is rejected
    let calls = 0;
    const rising: CurvatureObjective = {
      ...ros,
      lossAndGrad: (q) => ({ ...(ros.lossAndGrad(q) as { loss: number; grad: Float64Array }), loss: 1 + calls++ }),
    };
    const state = createHessianFreeState(cfg);
    const stops = [];
    for (let k = 0; k < 3; k++) stops.push((await hessianFreeStep(cfg, p, state, rising)).stop);
    expect(stops.slice(0, 2)).toEqual([undefined, undefined]);
    expect(stops[2]).toMatch(/hessian_free: no decrease of J in 3 steps in a row \(damping [\d.]+\)/);
    expect(state.damping).toBeGreaterThan(cfg.damping);
    expect(Array.from(p)).toEqual(START);
  });
});

import { describe, expect, it } from 'vitest';
import { initParams } from './init';
import { paramLayout } from './layout';
import { forward, forward64, forwardTrace, lossAndGrad, lossAndGrad64 } from './network';
import { createRng } from './rng';
import { outputUnits, parseSpec, type NetworkSpec } from './spec';
import { XOR_PARAMS, XOR_SPEC, XOR_X, XOR_Y } from '../../../test/support/xor';

// The lecture's XOR network: h = relu(X W + c), out = h w + b
const xorSpec = parseSpec(XOR_SPEC);
const X = Float64Array.from(XOR_X);
const Y = Float64Array.from(XOR_Y);
// flat layout: W(1) [2x2] row-major, c, w [2x1], b
const lectureParams = Float64Array.from(XOR_PARAMS);

/** Full-batch gradient descent: params <- params - lr * dJ/dparams. */
function gradientDescent(
  spec: NetworkSpec,
  p: Float64Array,
  x: Float64Array,
  y: Float64Array,
  lr: number,
  steps: number,
) {
  const batch = y.length / outputUnits(spec);
  const grad = new Float64Array(p.length);
  let loss = Infinity;
  for (let t = 0; t < steps; t++) {
    loss = lossAndGrad64(spec, p, x, y, batch, grad).loss;
    for (let i = 0; i < p.length; i++) p[i] -= lr * grad[i];
  }
  return lossAndGrad64(spec, p, x, y, batch).loss ?? loss;
}

describe('network: the lecture XOR network', () => {
  it('computes every matrix of the slides', () => {
    const t = forwardTrace(xorSpec, lectureParams, X, 4);
    expect(Array.from(t.x[1])).toEqual([0, 0, 0, 1, 1, 0, 1, 1]);
    // XW + c, then relu
    expect(Array.from(t.a[1])).toEqual([0, -1, 1, 0, 1, 0, 2, 1]);
    expect(Array.from(t.h[1])).toEqual([0, 0, 1, 0, 1, 0, 2, 1]);
    // h w + b
    expect(Array.from(t.a[2])).toEqual([0, 1, 1, 0]);
    expect(Array.from(forward64(xorSpec, lectureParams, X, 4))).toEqual([0, 1, 1, 0]);
    expect(Array.from(forward(xorSpec, Float32Array.from(lectureParams), Float32Array.from(X), 4))).toEqual([
      0, 1, 1, 0,
    ]);
  });

  it('XW before the bias is [[0,0],[1,1],[1,1],[2,2]]', () => {
    const noBias = Float64Array.from(lectureParams);
    noBias[4] = noBias[5] = 0;
    expect(Array.from(forwardTrace(xorSpec, noBias, X, 4).a[1])).toEqual([0, 0, 1, 1, 1, 1, 2, 2]);
  });

  it('has loss 0 and gradient 0 at the lecture solution', () => {
    const r = lossAndGrad64(xorSpec, lectureParams, X, Y, 4);
    expect(r.loss).toBe(0);
    expect(Array.from(r.grad).every((g) => g === 0)).toBe(true);
    expect(r.correct).toBe(0);
  });
});

describe('network: the best linear model on XOR', () => {
  const linear = parseSpec({ inputSize: 2, layers: [{ units: 1, activation: 'identity' }], loss: 'sum_of_squares' });

  it('is w = 0, b = 1/2 with zero gradient and J = 0.5', () => {
    const r = lossAndGrad64(linear, new Float64Array([0, 0, 0.5]), X, Y, 4);
    expect(r.loss).toBe(0.5); // 1/2 * 4 * (1/2)^2
    expect(Array.from(r.grad)).toEqual([0, 0, 0]);
  });

  it('is where gradient descent converges', () => {
    const p = new Float64Array([0.7, -0.3, -1.2]);
    const loss = gradientDescent(linear, p, X, Y, 0.1, 2000);
    expect(loss).toBeCloseTo(0.5, 9);
    expect(Math.abs(p[0]) + Math.abs(p[1])).toBeLessThan(1e-6);
    expect(p[2]).toBeCloseTo(0.5, 6);
  });
});

describe('network: XOR from random init', () => {
  for (const activation of ['tanh'] as const) {
    it(`2-2-1 ${activation} reaches J < 1e-3 for most of 20 seeds (full-batch gradient descent)`, () => {
      const spec = parseSpec({
        inputSize: 2,
        layers: [
          { units: 2, activation },
          { units: 1, activation: 'identity' },
        ],
        loss: 'sum_of_squares',
      });
      let solved = 0;
      for (let seed = 0; seed < 20; seed++) {
        const p = Float64Array.from(initParams(spec, createRng(seed)));
        if (gradientDescent(spec, p, X, Y, 0.1, 3000) < 1e-3) solved++;
      }
      console.log(`XOR 2-2-1 ${activation}: ${solved}/20 seeds reach J < 1e-3`);
      expect(solved).toBeGreaterThan(10);
    });
  }
});

describe('network: shapes and errors', () => {
  it('refuses vectors of the wrong size', () => {
    const p = new Float32Array(paramLayout(xorSpec).size);
    expect(() => forward(xorSpec, new Float32Array(3), new Float32Array(8), 4)).toThrow(
      /parameter vector has 3 values, the layout needs 9/,
    );
    expect(() => forward(xorSpec, p, new Float32Array(7), 4)).toThrow(
      /inputs have 7 values, batch 4 x 2 inputs needs 8/,
    );
    expect(() => lossAndGrad(xorSpec, p, new Float32Array(8), new Float32Array(3), 4)).toThrow(/targets have 3 values/);
    expect(() => forward(xorSpec, p, new Float32Array(0), 0)).toThrow(/batch must be a positive integer/);
  });

  it('gives the same result for a batch at once and row by row, with any batch order', () => {
    const spec = parseSpec({
      inputSize: 3,
      layers: [
        { units: 5, activation: 'tanh' },
        { units: 4, activation: 'relu' },
        { units: 3, activation: 'softmax' },
      ],
      skips: [{ from: 1, to: 3, mode: 'concat' }],
      loss: 'softmax_cross_entropy',
    });
    const rng = createRng(3);
    const p = Float64Array.from(initParams(spec, rng));
    const x = Float64Array.from({ length: 7 * 3 }, () => rng.normal());
    const y = new Float64Array(7 * 3);
    for (let r = 0; r < 7; r++) y[r * 3 + (r % 3)] = 1;
    const all = lossAndGrad64(spec, p, x, y, 7);
    const sum = new Float64Array(p.length);
    let loss = 0;
    for (let r = 0; r < 7; r++) {
      const one = lossAndGrad64(spec, p, x.slice(r * 3, r * 3 + 3), y.slice(r * 3, r * 3 + 3), 1);
      loss += one.loss;
      one.grad.forEach((g, i) => (sum[i] += g));
    }
    expect(all.loss).toBeCloseTo(loss, 12);
    all.grad.forEach((g, i) => expect(g).toBeCloseTo(sum[i], 12));
  });
});

import { describe, expect, it } from 'vitest';
import { activate, activateGrad, backwardActivation, forwardActivation, gelu, softplus } from './activations';

describe('activations', () => {
  it.each([
    ['relu', -2, 0, 0],
    ['relu', 0, 0, 0], // f'(0) = 0
    ['relu', 3, 3, 1],
    ['leaky_relu', -2, -0.02, 0.01],
    ['leaky_relu', 0, 0, 0.01], // f'(0) = 0.01
    ['elu', -1, Math.exp(-1) - 1, Math.exp(-1)],
    ['elu', 0, 0, 1],
    ['elu', 2, 2, 1],
    ['identity', -7, -7, 1],
  ] as const)('%s(%d) = %d, derivative %d', (act, x, y, d) => {
    expect(activate(act, x)).toBeCloseTo(y, 15);
    expect(activateGrad(act, x, activate(act, x))).toBeCloseTo(d, 15);
  });

  it('computes sigmoid, tanh and softplus without overflow', () => {
    expect(activate('sigmoid', -800)).toBe(0);
    expect(activate('sigmoid', 800)).toBe(1);
    expect(activate('sigmoid', 0)).toBe(0.5);
    expect(softplus(1000)).toBe(1000);
    expect(softplus(-1000)).toBe(0);
    expect(softplus(0)).toBeCloseTo(Math.LN2, 15);
    expect(activateGrad('softplus', 0, softplus(0))).toBe(0.5); // f' = sigmoid
    expect(activateGrad('tanh', 0.5, Math.tanh(0.5))).toBeCloseTo(1 - Math.tanh(0.5) ** 2, 15);
  });

  it('uses the tanh approximation of gelu', () => {
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) at x = 1
    expect(gelu(1)).toBeCloseTo(0.8411919906082768, 14);
    expect(gelu(0)).toBe(0);
    expect(gelu(-10)).toBeCloseTo(0, 12);
  });

  it('takes softmax row by row, max-subtracted, and back through its full Jacobian', () => {
    const a = new Float64Array([1000, 1000, 0, 1, 2, 3]);
    const p = new Float64Array(6);
    forwardActivation('softmax', a, p, 2, 3);
    expect(p[0]).toBe(0.5);
    expect(p[2]).toBe(0);
    const e = [1, Math.E, Math.E ** 2];
    const s = e[0] + e[1] + e[2];
    e.forEach((v, k) => expect(p[3 + k]).toBeCloseTo(v / s, 15));
    // delta = p * (g - sum(p * g)); for g = e_k this is the k-th column of diag(p) - p p^T
    const g = new Float64Array([0, 0, 0, 1, 0, 0]);
    backwardActivation('softmax', a, p, g, 2, 3);
    expect(g[3]).toBeCloseTo(p[3] * (1 - p[3]), 15);
    expect(g[4]).toBeCloseTo(-p[3] * p[4], 15);
  });
});

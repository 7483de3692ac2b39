import { describe, expect, it } from 'vitest';
import { fitFullBatch, maxError } from './full-batch';
import { linearSpec, XOR_LECTURE_PARAMS, xorBatch, xorSpec } from './xor';

describe('fitFullBatch on the lecture XOR', () => {
  it("keeps the lecture's solution: J = 0, the gradient is 0 there", () => {
    const r = fitFullBatch(xorSpec(), xorBatch(), {
      seed: 0,
      steps: 10,
      optimizer: { type: 'sgd', lr: 0.1 },
      init: XOR_LECTURE_PARAMS,
    });
    expect(Array.from(r.params)).toEqual(Array.from(XOR_LECTURE_PARAMS));
    expect(r.loss).toBe(0);
    expect(Array.from(r.outputs)).toEqual([0, 1, 1, 0]);
  });

  it.each([1, 2, 3])('the linear model goes to w = 0, b = 1/2, J = 1/2 from seed %i', (seed) => {
    // normal equations of the four points: X^T X (w1, w2, b) = X^T y gives (0, 0, 1/2)
    const r = fitFullBatch(linearSpec(), xorBatch(), { seed, steps: 1000, optimizer: { type: 'sgd', lr: 0.1 } });
    expect(Math.abs(r.params[0])).toBeLessThan(1e-6);
    expect(Math.abs(r.params[1])).toBeLessThan(1e-6);
    expect(r.params[2]).toBeCloseTo(0.5, 6);
    expect(r.loss).toBeCloseTo(0.5, 6); // 1/2 * 4 * (1/2)^2
  });

  it('one step of gradient descent is w - lr dJ/dw with J summed over the rows', () => {
    // from w = (0, 0), b = 0: residuals f - y = (0, -1, -1, 0); dJ/dw1 = -1, dJ/dw2 = -1, dJ/db = -2
    const r = fitFullBatch(linearSpec(), xorBatch(), {
      seed: 0,
      steps: 1,
      optimizer: { type: 'sgd', lr: 0.1 },
      init: new Float32Array(3),
    });
    expect(Array.from(r.params)).toEqual([0.1, 0.1, 0.2].map(Math.fround));
  });

  it('maxError is the largest absolute difference', () => {
    expect(maxError(new Float32Array([0, 1.25, 1, -0.5]), [0, 1, 1, 0])).toBe(0.5);
  });
});

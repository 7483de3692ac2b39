import { describe, expect, it } from 'vitest';
import { forwardActivation } from './activations';
import { lossAndDelta } from './losses';
import type { Activation, Loss } from './spec';

function run(loss: Loss, act: Activation, logits: number[], y: number[], units: number) {
  const a = Float64Array.from(logits);
  const out = new Float64Array(a.length);
  forwardActivation(act, a, out, a.length / units, units);
  const delta = new Float64Array(a.length);
  const r = lossAndDelta(loss, act, a, out, Float64Array.from(y), delta, a.length / units, units);
  return { ...r, delta: Array.from(delta), out: Array.from(out) };
}

describe('losses (summed over the batch)', () => {
  it('sum_of_squares is 1/2 sum (y - out)^2 with delta = out - y', () => {
    const r = run('sum_of_squares', 'identity', [1, 2, 3, 5], [0, 2, 1, 1], 2);
    expect(r.loss).toBe(0.5 * (1 + 0 + 4 + 16));
    expect(r.delta).toEqual([1, 0, 2, 4]);
    expect(r.correct).toBe(0);
  });

  it('mse is 1/K sum (y - out)^2 per sample with delta = 2/K (out - y)', () => {
    const r = run('mse', 'identity', [1, 2, 3, 5], [0, 2, 1, 1], 2);
    expect(r.loss).toBe((1 + 0) / 2 + (4 + 16) / 2);
    expect(r.delta).toEqual([1, 0, 2, 4]);
  });

  it('softmax_cross_entropy is -sum y log softmax(a) from the logits, delta = p - y, first max wins', () => {
    // row 0: a tie, argmax 0 == argmax y; row 1: huge logits stay finite through log-sum-exp
    const r = run('softmax_cross_entropy', 'softmax', [0, 0, 1000, 0], [1, 0, 0, 1], 2);
    expect(r.loss).toBeCloseTo(Math.LN2 + 1000, 9);
    expect(r.delta[0]).toBe(-0.5);
    expect(r.delta[1]).toBe(0.5);
    expect(r.correct).toBe(1);
  });

  it('sigmoid_binary_cross_entropy is max(a,0) - a y + log1p(exp(-|a|)), delta = p - y', () => {
    const r = run('sigmoid_binary_cross_entropy', 'sigmoid', [0, 800, -800, 2], [1, 1, 1, 0], 1);
    expect(r.loss).toBeCloseTo(Math.LN2 + 0 + 800 + (2 + Math.log1p(Math.exp(-2))), 9);
    expect(r.delta[0]).toBe(-0.5);
    expect(r.delta[2]).toBe(-1);
    // (out >= 0.5) == (y >= 0.5): sample 0 (0.5 vs 1) and sample 1 right, 2 and 3 wrong
    expect(r.correct).toBe(2);
  });

  it('counts a multi-label sample as correct only when every unit matches', () => {
    const r = run('sigmoid_binary_cross_entropy', 'sigmoid', [3, -3, 3, 3], [1, 0, 1, 0], 2);
    expect(r.correct).toBe(1);
  });
});

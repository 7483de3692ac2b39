import { describe, expect, it } from 'vitest';
import { paramLayout } from './layout';
import { forwardTrace, lossAndGrad64 } from './network';
import { parseSpec, type NetworkSpecInput } from './spec';

/** Small CNNs computed by hand: the numbers in the comments are the expected values. */

const X3 = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]); // the 3x3 input [[1,2,3],[4,5,6],[7,8,9]]

/** conv (identity) -> flatten -> dense with one unit and no bias, sum of squares. */
function convNet(conv: object, inputShape: [number, number, number]): NetworkSpecInput {
  return {
    inputShape,
    layers: [
      { kind: 'conv2d', activation: 'identity', ...conv },
      { kind: 'flatten' },
      { units: 1, activation: 'identity', useBias: false },
    ],
    loss: 'sum_of_squares',
  } as NetworkSpecInput;
}

describe('conv2d by hand', () => {
  // kernel [[1, 2], [3, 4]] (HWIO [2, 2, 1, 1]: row (dy * 2 + dx)), bias 0.5, valid, stride 1
  const spec = parseSpec(convNet({ filters: 1, kernelSize: 2 }, [3, 3, 1]));
  const layout = paramLayout(spec);
  const p = Float64Array.from([1, 2, 3, 4, 0.5, 1, 1, 1, 1]); // kernel, bias, dense W = ones

  it('computes each output cell from its window: 1*1 + 2*2 + 3*4 + 4*5 = 37, ...', () => {
    expect(layout.size).toBe(9);
    const t = forwardTrace(spec, p, X3, 1);
    // [[1*1+2*2+4*3+5*4, 2+6+15+24], [4+10+21+32, 5+12+24+36]] + 0.5
    expect(Array.from(t.h[1])).toEqual([37.5, 47.5, 67.5, 77.5]);
    expect(Array.from(t.h[3])).toEqual([230]);
  });

  it('sums delta * h over every place a shared weight is used', () => {
    // J = 1/2 f^2 with f = 230 (target 0): dJ/df = 230, and delta = 230 at each of the 4 cells
    const { loss, grad } = lossAndGrad64(spec, p, X3, new Float64Array(1), 1);
    expect(loss).toBe(0.5 * 230 * 230);
    // dJ/dk[dy][dx] = 230 * (sum of the inputs the kernel entry saw): 1+2+4+5, 2+3+5+6, 4+5+7+8, 5+6+8+9
    expect(Array.from(grad.subarray(0, 4))).toEqual([12 * 230, 16 * 230, 24 * 230, 28 * 230]);
    expect(grad[4]).toBe(4 * 230); // dJ/db: delta summed over the 4 cells
    // dense: dJ/dw_i = h_i * 230
    expect(Array.from(grad.subarray(5))).toEqual([37.5 * 230, 47.5 * 230, 67.5 * 230, 77.5 * 230]);
  });

  it('pads same like TensorFlow: 3x3 input, 2x2 kernel, stride 2: padding 0 before, 1 after', () => {
    const same = parseSpec(convNet({ filters: 1, kernelSize: 2, strides: 2, padding: 'same' }, [3, 3, 1]));
    const t = forwardTrace(same, Float64Array.from([1, 2, 3, 4, 0, 1, 1, 1, 1]), X3, 1);
    // windows at rows/cols {0,1} and {2, pad}: [[37, 3*1 + 6*3], [7*1 + 8*2, 9*1]]
    expect(Array.from(t.h[1])).toEqual([37, 21, 23, 9]);
  });

  it('takes channels last and filters as the last kernel axis', () => {
    // a 1x1 kernel over 2 channels, 2 filters: [[1, 10], [100, 1000]] (rows ci, columns k)
    const spec2 = parseSpec(convNet({ filters: 2, kernelSize: 1, useBias: false }, [1, 2, 2]));
    const x = Float64Array.from([1, 2, 3, 4]); // cells (0,0) = [1, 2], (0,1) = [3, 4]
    const t = forwardTrace(spec2, Float64Array.from([1, 10, 100, 1000, 0, 0, 0, 0]), x, 1);
    expect(Array.from(t.h[1])).toEqual([201, 2010, 403, 4030]);
  });
});

describe('pooling by hand', () => {
  /** conv 1x1 (w, b) -> pool -> flatten -> dense 1 unit W = 1, so dJ/dw and dJ/db show where delta went. */
  const pooled = (pool: object, inputShape: [number, number, number]) =>
    parseSpec({
      inputShape,
      layers: [
        { kind: 'conv2d', filters: 1, kernelSize: 1, activation: 'identity' },
        pool,
        { kind: 'flatten' },
        { units: 1, activation: 'identity', useBias: false },
      ],
      loss: 'sum_of_squares',
    } as NetworkSpecInput);

  it('max pooling sends delta to the FIRST maximum of a tie', () => {
    // w = 0, b = 0.25: every conv output is 0.25, a four-way tie; f = 0.25, dJ/df = 0.25
    const spec = pooled({ kind: 'maxPool2d', poolSize: 2 }, [2, 2, 1]);
    const x = Float64Array.from([2, 3, 5, 7]);
    const { grad } = lossAndGrad64(spec, Float64Array.from([0, 0.25, 1]), x, new Float64Array(1), 1);
    // dJ/dw = x at the arg-max * 0.25: the first cell (2), not the last (7); dJ/db = 0.25 once
    expect(grad[0]).toBe(2 * 0.25);
    expect(grad[1]).toBe(0.25);
  });

  it('max pooling without a tie sends delta to the largest cell', () => {
    const spec = pooled({ kind: 'maxPool2d', poolSize: 2 }, [2, 2, 1]);
    const x = Float64Array.from([2, 3, 7, 5]);
    // w = 1, b = 0: f = 7, dJ/dw = 7 * 7
    const { grad } = lossAndGrad64(spec, Float64Array.from([1, 0, 1]), x, new Float64Array(1), 1);
    expect(grad[0]).toBe(49);
  });

  it('average pooling with same padding divides by the valid cells only', () => {
    // 3x3 input, pool 2 stride 2 same: windows of 4, 2, 2 and 1 valid cells
    const spec = pooled({ kind: 'avgPool2d', poolSize: 2, padding: 'same' }, [3, 3, 1]);
    const t = forwardTrace(spec, Float64Array.from([1, 0, 1, 1, 1, 1]), X3, 1);
    // [[(1+2+4+5)/4, (3+6)/2], [(7+8)/2, 9/1]]
    expect(Array.from(t.h[2])).toEqual([3, 4.5, 7.5, 9]);
    // f = 24; dJ/dw = 24 * sum over windows of the mean of x = 24 * 24; dJ/db = 24 * 4 (each mean of b is b)
    const { grad } = lossAndGrad64(spec, Float64Array.from([1, 0, 1, 1, 1, 1]), X3, new Float64Array(1), 1);
    expect(grad[0]).toBe(24 * 24);
    expect(grad[1]).toBe(24 * 4);
  });

  it('max pooling with same padding ignores the padded cells (all inputs negative)', () => {
    const spec = pooled({ kind: 'maxPool2d', poolSize: 2, padding: 'same' }, [3, 3, 1]);
    const neg = X3.map((v) => -v);
    const t = forwardTrace(spec, Float64Array.from([1, 0, 1, 1, 1, 1]), neg, 1);
    // a padded 0 would win every edge window; the valid maxima are -1, -3, -7, -9
    expect(Array.from(t.h[2])).toEqual([-1, -3, -7, -9]);
  });
});

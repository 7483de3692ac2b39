import { createRng, flatMask, paramLayout, parseSpec } from '@nnq/nn';
import { describe, expect, it } from 'vitest';
import { fillMasked, paramTensors, relErr, tensorMismatches } from '../../../test/support/param-tensors';

// 3 -> 4 (relu) -> 2 (identity) with a concat skip from the input and a mask on layer 2
const spec = parseSpec({
  inputSize: 3,
  layers: [
    { units: 4, activation: 'relu' },
    { units: 2, activation: 'identity', mask: Array.from({ length: 7 }, (_, i) => [i % 2, 1] as (0 | 1)[]) },
  ],
  skips: [{ from: 0, to: 2, mode: 'concat' }],
  loss: 'sum_of_squares',
});

describe('paramTensors / tensorMismatches', () => {
  it("splits libs/nn's flat layout into kernels, a concat skip's rows and biases", () => {
    expect(paramTensors(spec)).toEqual([
      { name: 'kernel_1', from: 0, to: 12 },
      { name: 'bias_1', from: 12, to: 16 },
      { name: 'kernel_2', from: 16, to: 24 },
      { name: 'kernel_2 rows of skip from h(0)', from: 24, to: 30 },
      { name: 'bias_2', from: 30, to: 32 },
    ]);
    expect(paramLayout(spec).size).toBe(32);
  });

  it('takes a conv kernel whole and skips pooling and flatten layers', () => {
    const cnn = parseSpec({
      inputShape: [4, 4, 2],
      layers: [
        { kind: 'conv2d', filters: 3, kernelSize: 2, activation: 'relu' },
        { kind: 'maxPool2d', poolSize: 3 },
        { kind: 'flatten' },
        { units: 2, activation: 'identity' },
      ],
      loss: 'sum_of_squares',
    });
    // conv kernel 2 * 2 * 2 x 3 = 24, its bias 3; pool output 1x1x3 -> dense 3 x 2 and bias 2
    expect(paramTensors(cnn)).toEqual([
      { name: 'kernel_1', from: 0, to: 24 },
      { name: 'bias_1', from: 24, to: 27 },
      { name: 'kernel_4', from: 27, to: 33 },
      { name: 'bias_4', from: 33, to: 35 },
    ]);
    expect(paramLayout(cnn).size).toBe(35);
  });

  it('names a small bias that is wrong even when the norm of the whole vector agrees', () => {
    const want = Float64Array.from({ length: 32 }, (_, i) => (i >= 30 ? 1e-4 : 10));
    const got = Float64Array.from(want);
    got[30] = 2e-4; // bias_2 off by 100%
    expect(relErr(got, want)).toBeLessThan(1e-5);
    expect(tensorMismatches(spec, got, want, 1e-5)).toEqual([
      expect.stringMatching(/^bias_2: relative error 7\.07e-1$/),
    ]);
    got[25] += 1; // and a skip row
    expect(tensorMismatches(spec, got, want, 1e-5)).toEqual([
      expect.stringMatching(/^kernel_2 rows of skip from h\(0\): relative error 4\.08e-2$/),
      expect.stringMatching(/^bias_2: /),
    ]);
  });

  it('fillMasked writes non-zero weights under the zeros of the mask and nowhere else', () => {
    const p = fillMasked(spec, new Float32Array(32), createRng(1));
    const mask = flatMask(spec)!;
    p.forEach((v, i) => expect(v !== 0).toBe(mask[i] === 0));
  });
});

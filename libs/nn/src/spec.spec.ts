import { describe, expect, it } from 'vitest';
import { paramLayout } from './layout';
import { parseSpec } from './spec';

describe('spec', () => {
  it('lays out the XOR network', () => {
    const spec = parseSpec({
      inputSize: 2,
      layers: [
        { units: 2, activation: 'relu' },
        { units: 1, activation: 'identity' },
      ],
      loss: 'sum_of_squares',
    });
    expect(paramLayout(spec).size).toBe(9);
  });
  it('names the field of a bad spec', () => {
    expect(() => parseSpec({ inputSize: 2, layers: [{ units: 0, activation: 'relu' }], loss: 'mse' })).toThrow(
      /layers\[0\]\.units: must be at least 1/,
    );
  });
});

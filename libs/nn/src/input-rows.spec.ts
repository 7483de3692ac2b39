import { describe, expect, it } from 'vitest';
import { flattenInputRow } from './input-rows';
import { parseSpec } from './spec';

const image = parseSpec({
  inputShape: [2, 3, 2],
  layers: [{ kind: 'flatten' }, { units: 1, activation: 'identity' }],
  loss: 'mse',
});
const flat = parseSpec({ inputSize: 3, layers: [{ units: 1, activation: 'identity' }], loss: 'mse' });
/** The 2x3x2 image whose value at (y, x, c) is 100 y + 10 x + c. */
const nested = [0, 1].map((y) => [0, 1, 2].map((x) => [0, 1].map((c) => 100 * y + 10 * x + c)));

describe('flattenInputRow', () => {
  it('flattens a nested [h][w][c] image in NHWC order', () => {
    expect(flattenInputRow(image, nested)).toEqual([0, 1, 10, 11, 20, 21, 100, 101, 110, 111, 120, 121]);
  });

  it('takes flat rows as they are', () => {
    const row = Array.from({ length: 12 }, (_, i) => i);
    expect(flattenInputRow(image, row)).toBe(row);
    expect(flattenInputRow(flat, [1, 2, 3])).toEqual([1, 2, 3]);
  });

  it.each<[string, unknown, RegExp]>([
    [
      'a transposed image',
      [[[0, 1]], [[0, 1]], [[0, 1]]],
      /^has shape \[3\]\[1\]\[2\], the model takes an image \[2\]\[3\]\[2\] or 12 flat values$/,
    ],
    [
      'a grey image without channels',
      [
        [0, 1, 2],
        [3, 4, 5],
      ],
      /^has shape \[2\]\[3\], the model takes an image/,
    ],
    ['a ragged image', [nested[0], nested[1].slice(1)], /^has shape \[2\]\[\?\], the model takes an image/],
    ['a string cell', [[[0, 'a']]], /^has shape \[1\]\[1\]\[2\]\[\?\]/],
    [
      'an infinite value (1e999 in JSON)',
      nested.map((l, y) => (y ? l : [[Infinity, 0], ...l.slice(1)])),
      /^holds Infinity at \[0\]\[0\]\[0\], a finite number is needed$/,
    ],
    ['too few flat values', [1, 2], /^has 2 values, the model takes an image \[2\]\[3\]\[2\] or 12 flat values$/],
    ['an object', { x: 1 }, /^is not an array, the model takes an image/],
  ])('refuses %s, naming the shape it has and the one the model takes', (_what, row, message) => {
    expect(() => flattenInputRow(image, row)).toThrow(message);
  });

  it('refuses a nested row for a model without an input shape', () => {
    expect(() => flattenInputRow(flat, [[1], [2], [3]])).toThrow(/^is not a row of numbers, the model takes 3 values$/);
  });
});

import { parseSpec, type NetworkSpec } from '@nnq/nn';

/**
 * The lecture's XOR example: four inputs, their XOR, and the network that solves it exactly,
 *   h = relu(W^T x + c),  f(x) = w^T h + b,
 *   W = [[1, 1], [1, 1]],  c = [0, -1],  w = [1, -2],  b = 0.
 */
export const XOR_INPUTS: readonly (readonly [number, number])[] = [
  [0, 0],
  [0, 1],
  [1, 0],
  [1, 1],
];
export const XOR_TARGETS: readonly number[] = [0, 1, 1, 0];

/** The 2-2-1 network of the lecture, sum of squares, with `hidden` ReLU units. */
export function xorSpec(hidden = 2): NetworkSpec {
  return parseSpec({
    inputSize: 2,
    layers: [
      { units: hidden, activation: 'relu' },
      { units: 1, activation: 'identity' },
    ],
    loss: 'sum_of_squares',
  });
}

/** The linear model f(x) = w^T x + b under the same loss. */
export function linearSpec(): NetworkSpec {
  return parseSpec({ inputSize: 2, layers: [{ units: 1, activation: 'identity' }], loss: 'sum_of_squares' });
}

/** The lecture's solution in the flat layout: kernel W (row-major [fanIn, units]), c, then w, b. */
export const XOR_LECTURE_PARAMS = new Float32Array([1, 1, 1, 1, 0, -1, 1, -2, 0]);

/** The four inputs row-major [4, 2] and targets [4, 1], as the training code takes them. */
export function xorBatch(): { x: Float32Array; y: Float32Array; rows: number } {
  return { x: new Float32Array(XOR_INPUTS.flat()), y: new Float32Array(XOR_TARGETS), rows: XOR_INPUTS.length };
}

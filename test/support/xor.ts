import type { NetworkSpecInput } from '@nnq/nn';

/**
 * The lecture's XOR network, for the unit tests of libs/nn and libs/engine-onnx alike (a test
 * fixture, so it lives here and the build does not ship it): h = relu(X W + c), out = h w + b,
 * sum of squares. examples/xor.json trains the same network on a cluster.
 */
export const XOR_SPEC: NetworkSpecInput = {
  inputSize: 2,
  layers: [
    { units: 2, activation: 'relu' },
    { units: 1, activation: 'identity' },
  ],
  loss: 'sum_of_squares',
};

/** The lecture's solution, flat: W = [[1,1],[1,1]] row-major, c = [0,-1], w = [1,-2], b = 0. Outputs Y exactly. */
export const XOR_PARAMS: readonly number[] = [1, 1, 1, 1, 0, -1, 1, -2, 0];
/** The four inputs, row-major [4, 2]. */
export const XOR_X: readonly number[] = [0, 0, 0, 1, 1, 0, 1, 1];
/** Their XOR. */
export const XOR_Y: readonly number[] = [0, 1, 1, 0];

/**
 * A small CNN on 6x6x1 "images" (four Gaussian blobs in 36 dimensions): conv 3x3 same, max pool 2,
 * conv 2x2 same, avg pool 2 same (3x3 -> 2x2: windows over a padded edge), flatten, dense softmax;
 * 3 shards per step.
 * The network of test/cnn-cluster.e2e.ts and test/cnn-chaos.e2e.ts.
 */
export const cnnConfig = (epochs: number) => ({
  name: `cnn-blobs-${epochs}`,
  seed: 5,
  dataset: {
    source: { type: 'synthetic', name: 'blobs', n: 600, features: 36, centers: 4, spread: 3, seed: 2 },
    validation: 0.1,
    test: 0.1,
    preprocessing: { standardize: true },
  },
  model: {
    inputShape: [6, 6, 1],
    layers: [
      { kind: 'conv2d', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' },
      { kind: 'maxPool2d', poolSize: 2 },
      { kind: 'conv2d', filters: 6, kernelSize: [2, 2], padding: 'same', activation: 'tanh' },
      { kind: 'avgPool2d', poolSize: 2, padding: 'same' },
      { kind: 'flatten' },
      { units: 4, activation: 'softmax' },
    ],
    loss: 'softmax_cross_entropy',
  },
  optimizer: { type: 'adam', lr: 0.01 },
  batchSize: 60,
  shards: 3,
  epochs,
});

import { parseRunConfig, type RunConfig } from '@nnq/training';

/**
 * A small run for the specs of the cluster's steps and replicas: 400 XOR rows as regression, a
 * 2-4-1 tanh network (17 parameters), Adam, 2 shards of 20 rows a step. `more` adds the rest
 * (steps, the reduce strategy, ...) after those fields.
 */
export function smallRegressionRun(name: string, more: object = {}): RunConfig {
  return parseRunConfig({
    name,
    dataset: { source: { type: 'synthetic', name: 'xor', n: 400, seed: 1, task: 'regression' } },
    model: {
      inputSize: 2,
      layers: [
        { units: 4, activation: 'tanh' },
        { units: 1, activation: 'identity' },
      ],
      loss: 'sum_of_squares',
    },
    optimizer: { type: 'adam', lr: 0.01 },
    batchSize: 40,
    shards: 2,
    ...more,
  });
}

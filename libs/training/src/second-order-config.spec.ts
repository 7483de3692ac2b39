import { describe, expect, it } from 'vitest';
import { RunConfigError } from './run-config';
import { parseLocalRunConfig } from './second-order-config';

/** parseLocalRunConfig: a second-order run's config, with what does not apply to it refused by path. */

const xor = {
  name: 'xor-lbfgs',
  dataset: { source: { type: 'synthetic', name: 'xor', n: 64, seed: 1, task: 'regression' } },
  model: { inputSize: 2, layers: [{ units: 1, activation: 'identity' }], loss: 'sum_of_squares' },
  optimizer: { type: 'lbfgs', history: 5 },
  batchSize: 64,
  steps: 10,
};

function problemsOf(json: unknown): string[] {
  try {
    parseLocalRunConfig(json);
  } catch (err) {
    if (err instanceof RunConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected the config to be refused');
}

describe('parseLocalRunConfig and reduce.strategy', () => {
  it.each([
    ['lbfgs', 'sliced', { strategy: 'sliced', slices: 4 }],
    ['lbfgs', 'replicated', { strategy: 'replicated' }],
    ['hessian_free', 'sliced', { strategy: 'sliced', slices: 2, sliceAbove: 0 }],
    ['hessian_free', 'replicated', { strategy: 'replicated' }],
  ])('refuses %s with strategy %s by path, saying why', (type, strategy, reduce) => {
    expect(problemsOf({ ...xor, optimizer: { type }, reduce })).toEqual([
      `reduce.strategy: "${strategy}" does not apply to ${type}: a second-order run sums every pass's shard ` +
        'results and takes its outer step on the coordinator; give "auto" or "central"',
    ]);
  });

  it('lists it beside the other problems', () => {
    const problems = problemsOf({ ...xor, optimizer: { type: 'lbfgs', history: 0 }, reduce: { strategy: 'sliced' } });
    expect(problems).toEqual([
      expect.stringMatching(/^optimizer\.history: must be at least 1/),
      expect.stringMatching(/^reduce\.slices: must be at least 2 with strategy "sliced"/),
      expect.stringMatching(/^reduce\.strategy: "sliced" does not apply to lbfgs: .* give "auto" or "central"$/),
    ]);
  });

  it.each(['auto', 'central'])('takes strategy %s (the coordinator reduces either way)', (strategy) => {
    const { config, secondOrder } = parseLocalRunConfig({ ...xor, reduce: { strategy, slices: 4, sliceAbove: 0 } });
    expect(config.reduce.strategy).toBe(strategy);
    expect(secondOrder?.type).toBe('lbfgs');
  });

  it('leaves first-order runs their strategies', () => {
    const { config } = parseLocalRunConfig({
      ...xor,
      optimizer: { type: 'adam', lr: 0.01 },
      reduce: { strategy: 'replicated' },
    });
    expect(config.reduce.strategy).toBe('replicated');
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { problemsOf } from '../../../test/support/problems';
import { parseSweepConfig, plannedTrials, SweepConfigError, trialConfig } from './sweep-config';
import { suggestTrial } from './sweep-plan';

const spirals = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'examples', 'spirals.json'), 'utf8'));
const sweep = (over: Record<string, unknown> = {}) => ({
  name: 'spirals-sweep',
  seed: 1,
  base: spirals,
  space: {
    'optimizer.lr': { type: 'loguniform', min: 0.001, max: 0.1 },
    'model.layers[0].units': { type: 'grid', values: [16, 64] },
  },
  method: { type: 'random' },
  objective: { metric: 'accuracy', mode: 'max' },
  budget: { maxTrials: 6, maxConcurrent: 2 },
  scheduler: { type: 'asha', minEpochs: 2, reductionFactor: 3 },
  ...over,
});

const problems = (json: unknown): string[] => problemsOf(SweepConfigError, parseSweepConfig, json);

describe('sweep config', () => {
  it('accepts the example sweeps', () => {
    for (const file of ['sweep-fashion-mnist.json', 'sweep-spirals.json']) {
      const json = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'examples', file), 'utf8'));
      expect(() => parseSweepConfig(json)).not.toThrow();
    }
  });

  it('builds trial configs with the parameters at their paths and the trial name', () => {
    const s = parseSweepConfig(sweep());
    const c = trialConfig(s, 3, { 'optimizer.lr': 0.05, 'model.layers[0].units': 16 });
    expect(c.name).toBe('spirals-sweep-t3');
    expect(c.optimizer.lr).toBe(0.05);
    expect(c.model.layers[0]).toMatchObject({ units: 16 });
    expect(c.model.layers[1]).toMatchObject({ units: 64 });
    expect(plannedTrials(s)).toBe(6);
    expect(plannedTrials({ ...s, method: { type: 'grid' } })).toBe(2);
  });

  it('proposes grid trials over the grid and samples the rest', () => {
    const s = parseSweepConfig(sweep({ method: { type: 'grid' } }));
    const trials = [0, 1].map((k) => suggestTrial(s, k, []));
    expect(trials.map((t) => t['model.layers[0].units'])).toEqual([16, 64]);
    expect(trials.every((t) => (t['optimizer.lr'] as number) >= 0.001)).toBe(true);
  });

  it.each([
    [
      { space: { 'optimizer.lrate': { type: 'uniform', min: 0, max: 1 } } },
      /^space\["optimizer\.lrate"\]: optimizer\.lrate does not exist in the base config$/,
    ],
    [
      { space: { 'model.layers[5].units': { type: 'grid', values: [1] } } },
      /^space\["model\.layers\[5\]\.units"\]: model\.layers\[5\] does not exist/,
    ],
    [
      { space: { 'optimizer..lr': { type: 'uniform', min: 0, max: 1 } } },
      /^space\["optimizer\.\.lr"\]: is not a config path/,
    ],
    [
      { space: { 'optimizer.lr': { type: 'uniform', min: -1, max: 1 } } },
      /^space\["optimizer\.lr"\]: optimizer\.lr=-1 gives an invalid run config: optimizer\.lr: must be greater than 0/,
    ],
    [
      { space: { batchSize: { type: 'choice', values: [64, 'big'] } } },
      /^space\["batchSize"\]: batchSize="big" gives an invalid run config: batchSize: /,
    ],
    [
      { space: { 'optimizer.lr': { type: 'uniform', min: 1, max: 0.1 } } },
      /^space\["optimizer\.lr"\]\.max: must be at least min \(1\)/,
    ],
    [{ space: {} }, /^space: must hold at least one parameter/],
    [{ base: { ...spirals, batchSize: 0 } }, /^base\.batchSize: must be at least 1/],
    [{ method: { type: 'bayes' } }, /^method\.type: /],
    [{ budget: { maxTrials: 0 } }, /^budget\.maxTrials: must be at least 1/],
    [{ scheduler: { type: 'asha', reductionFactor: 1 } }, /^scheduler\.reductionFactor: must be at least 2/],
    [{ objective: { metric: 'f1', mode: 'max' } }, /^objective\.metric: /],
    [
      { method: { type: 'grid' }, space: { 'optimizer.lr': { type: 'uniform', min: 0.1, max: 1 } } },
      /^method: grid needs at least one choice or grid parameter/,
    ],
  ])('refuses %j by path', (over, message) => {
    expect(problems(sweep(over))).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
  });
});

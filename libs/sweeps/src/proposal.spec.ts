import { createRng } from '@nnq/nn';
import { describe, expect, it } from 'vitest';
import { proposeTrial, trialsBefore, type TrialOutcome } from './proposal';
import type { TrialParams } from './search-space';
import { parseSweepConfig, type SweepConfig } from './sweep-config';
import { objectiveLoss, suggestTrial } from './sweep-plan';

const base = {
  name: 'xor',
  seed: 1,
  dataset: { source: { type: 'synthetic', name: 'xor' } },
  model: {
    inputSize: 2,
    layers: [
      { units: 4, activation: 'tanh' },
      { units: 1, activation: 'sigmoid' },
    ],
    loss: 'sigmoid_binary_cross_entropy',
  },
  optimizer: { type: 'adam', lr: 0.01 },
  batchSize: 4,
  epochs: 1,
};
const sweepOf = (maxConcurrent: number): SweepConfig =>
  parseSweepConfig({
    name: 'tpe-window',
    seed: 11,
    base,
    space: {
      'optimizer.lr': { type: 'loguniform', min: 0.0001, max: 1 },
      'model.layers[0].units': { type: 'int', min: 2, max: 64 },
    },
    method: { type: 'tpe', startupTrials: 3, gamma: 0.25, candidates: 24 },
    objective: { metric: 'accuracy', split: 'validation', mode: 'max' },
    budget: { maxTrials: 14, maxConcurrent },
  });

/** A trial's result, a fixed function of its parameters: best near lr = 0.01, 16 units. */
const accuracy = (p: TrialParams) =>
  1 /
  (1 + (Math.log10(p['optimizer.lr'] as number) + 2) ** 2 + ((p['model.layers[0].units'] as number) - 16) ** 2 / 100);

/**
 * Run the sweep on `C` slots, finishing the running trials in an order drawn from `orderSeed`; a
 * free slot proposes the next trial when `propose` can, else waits for a trial to finish. Returns
 * the proposals by trial index.
 */
function simulate(
  sweep: SweepConfig,
  orderSeed: number,
  propose: (k: number, trials: readonly TrialOutcome[]) => TrialParams | null,
): TrialParams[] {
  const rng = createRng(orderSeed);
  const trials: TrialOutcome[] = [];
  const C = sweep.budget.maxConcurrent;
  for (;;) {
    const running = trials.filter((t) => !t.ended);
    let launched = false;
    if (running.length < C && trials.length < sweep.budget.maxTrials) {
      const params = propose(trials.length, trials);
      if (params) {
        trials.push({ index: trials.length, params, ended: false });
        launched = true;
      }
    }
    if (launched) continue;
    if (!running.length) break;
    // any running trial may finish next: the order is the workers', not the sweep's
    const done = running[Math.floor(rng.next() * running.length)];
    Object.assign(done, { ended: true, best: accuracy(done.params) });
  }
  return trials.map((t) => t.params);
}

/** Today's greedy proposer: every trial ended so far, whatever came before it. */
const greedy = (sweep: SweepConfig) => (k: number, trials: readonly TrialOutcome[]) =>
  suggestTrial(
    sweep,
    k,
    trials.filter((t) => t.ended).map((t) => ({ params: t.params, loss: objectiveLoss(sweep.objective, t.best!) })),
  );

describe('proposeTrial: TPE with maxConcurrent > 1', () => {
  it('waits for trials 0..k-C past the random start-up; grid, random and start-up never wait', () => {
    const s = sweepOf(3);
    expect([0, 1, 2, 3, 4, 5, 9].map((k) => trialsBefore(s, k))).toEqual([0, 0, 0, 1, 2, 3, 7]);
    expect(trialsBefore(sweepOf(1), 9)).toBe(9);
    const random = { ...s, method: { type: 'random' } } as SweepConfig;
    expect(trialsBefore(random, 9)).toBe(0);
    const t0 = { index: 0, params: {}, ended: false };
    expect(proposeTrial(s, 3, [t0])).toBeNull();
    expect(proposeTrial(s, 3, [{ ...t0, ended: true, best: 0.5 }])).not.toBeNull();
  });

  it.each([2, 3, 4])('proposes the same trials whatever order the workers finish them in (C = %i)', (C) => {
    const sweep = sweepOf(C);
    const runs = [1, 2, 3, 4, 5].map((order) => simulate(sweep, order, (k, t) => proposeTrial(sweep, k, t)));
    for (const r of runs) expect(r).toEqual(runs[0]);
    expect(runs[0]).toHaveLength(14);
  });

  it('where proposing from whatever has ended does not (the test can tell them apart)', () => {
    const sweep = sweepOf(3);
    const runs = [1, 2, 3, 4, 5].map((order) => JSON.stringify(simulate(sweep, order, greedy(sweep))));
    expect(new Set(runs).size).toBeGreaterThan(1);
  });

  it('with C = 1 is the sequential TPE: every earlier trial counts', () => {
    const sweep = sweepOf(1);
    expect(simulate(sweep, 1, (k, t) => proposeTrial(sweep, k, t))).toEqual(simulate(sweep, 2, greedy(sweep)));
  });
});

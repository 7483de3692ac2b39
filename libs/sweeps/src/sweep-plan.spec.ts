import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSweepConfig } from './sweep-config';
import { rankByObjective, reviewTrial } from './sweep-plan';

const json = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'examples', 'sweep-spirals.json'), 'utf8'));
// ASHA with rungs at epochs 2 and 6 (eta 3) below the base's 12 epochs
const sweep = parseSweepConfig(json);
const curve = (...losses: number[]) => losses.map((loss, i) => ({ epoch: i + 1, loss }));

describe('reviewTrial', () => {
  it('reports a trial at each rung it passed, in order, and stops it where ASHA says', () => {
    let rungs = {};
    const a = reviewTrial(sweep, {
      trial: 0,
      maxEpochs: 12,
      curve: curve(-0.5, -0.6, -0.7, -0.8, -0.8, -0.9),
      reported: [],
      rungs,
      completed: [],
    });
    expect(a).toEqual({ rungs: { 2: [{ trial: 0, loss: -0.6 }], 6: [{ trial: 0, loss: -0.9 }] }, reported: [2, 6] });
    rungs = a.rungs;
    const b = reviewTrial(sweep, {
      trial: 1,
      maxEpochs: 12,
      curve: curve(-0.5, -0.55),
      reported: [],
      rungs,
      completed: [],
    });
    expect(b.stop).toBe('ASHA rung at epoch 2: not in the top 1 of 2');
    // an ended trial records its reports and is never stopped
    const c = reviewTrial(sweep, {
      trial: 2,
      maxEpochs: 12,
      curve: curve(-0.1, -0.1),
      reported: [],
      rungs: b.rungs,
      completed: [],
      decide: false,
    });
    expect(c.stop).toBeUndefined();
    expect(c.rungs[2].map((e) => e.trial)).toEqual([0, 1, 2]);
    // nothing new to report: no decision
    expect(
      reviewTrial(sweep, {
        trial: 0,
        maxEpochs: 12,
        curve: curve(-0.5, -0.6, -0.7),
        reported: [2],
        rungs: c.rungs,
        completed: [],
      }).stop,
    ).toBeUndefined();
  });

  it('ranks trials by the objective, unscored last, ties by index', () => {
    const trials = [{ index: 0, best: 0.5 }, { index: 1 }, { index: 2, best: 0.9 }, { index: 3, best: 0.5 }];
    expect(rankByObjective(trials, 'max').map((t) => t.index)).toEqual([2, 0, 3, 1]);
    expect(rankByObjective(trials, 'min').map((t) => t.index)).toEqual([0, 3, 2, 1]);
  });
});

import { describe, expect, it } from 'vitest';
import { formatLeaderboard, trialEvents, type SweepView } from './sweep.command';

const sweep: SweepView = {
  id: 'abc123',
  name: 's',
  state: 'running',
  planned: 4,
  objective: { metric: 'accuracy', split: 'validation', mode: 'max' },
  leaderboard: [
    {
      index: 1,
      state: 'running',
      params: { 'optimizer.lr': 0.0123456, units: 64 },
      best: 0.95,
      step: 40,
      totalSteps: 100,
    },
    {
      index: 0,
      state: 'stopped',
      params: { 'optimizer.lr': 0.1, units: 16 },
      best: 0.6,
      step: 20,
      totalSteps: 100,
      stopReason: 'ASHA rung at epoch 2: not in the top 1 of 2',
    },
    { index: 2, state: 'pending', params: { 'optimizer.lr': 0.001, units: 8 }, step: 0, totalSteps: 0 },
  ],
};

describe('nnq sweep output', () => {
  it('renders the leaderboard as aligned columns, best first', () => {
    expect(formatLeaderboard(sweep)).toEqual([
      'sweep s (abc123): running, 3/4 trials started',
      '#  trial  state    optimizer.lr  units  validation accuracy  steps',
      '1  t1     running  0.0123        64     0.9500               40/100',
      '2  t0     stopped  0.1           16     0.6000               20/100',
      '3  t2     pending  0.001         8      -                    0/?',
    ]);
    expect(formatLeaderboard(sweep, 1).at(-1)).toBe('... 2 more');
  });

  it('prints a line per trial state change, once', () => {
    const seen = new Map<number, string>();
    expect(trialEvents(seen, sweep)).toEqual([
      'trial t0 stopped at step 20/100 best 0.6000: optimizer.lr=0.1 units=16 ' +
        '(ASHA rung at epoch 2: not in the top 1 of 2)',
      'trial t1 running at step 40/100 best 0.9500: optimizer.lr=0.0123 units=64',
      'trial t2 pending at step 0/?: optimizer.lr=0.001 units=8',
    ]);
    expect(trialEvents(seen, sweep)).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { median, medianStop, runningAverage, type Curve } from './median-stopping';

const curve = (...losses: number[]): Curve => losses.map((loss, i) => ({ epoch: i + 1, loss }));

describe('median stopping', () => {
  const completed = [curve(0.9, 0.6, 0.4, 0.3), curve(0.8, 0.5, 0.3, 0.2), curve(1.0, 0.9, 0.8, 0.7)];

  it('averages a curve up to an epoch, only when the curve reached it', () => {
    expect(runningAverage(curve(1, 0.5, 0.3), 2)).toBeCloseTo(0.75);
    expect(runningAverage(curve(1, 0.5), 3)).toBeUndefined();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('stops exactly the trials whose best so far is worse than the median of running averages', () => {
    // running averages of the completed trials at epoch 2: 0.75, 0.65, 0.95 -> median 0.75
    const trials: Record<string, Curve> = {
      a: curve(0.9, 0.7), // best 0.7 < 0.75: continue
      b: curve(0.9, 0.8), // best 0.8 > 0.75: stop
      c: curve(0.75, 0.9), // best 0.75 = median: not strictly worse, continue
      d: curve(2.0), // epoch 1 below minEpochs: continue
      e: curve(1.2, 1.1, 1.0), // epoch 3: averages 0.633, 0.533, 0.9 -> median 0.633: stop
    };
    const opts = { minEpochs: 2, minTrials: 3 };
    const stopped = Object.keys(trials).filter((k) => medianStop(trials[k], completed, opts));
    expect(stopped).toEqual(['b', 'e']);
  });

  it('waits for minTrials completed trials at the epoch', () => {
    expect(medianStop(curve(5, 5), completed.slice(0, 2), { minEpochs: 1, minTrials: 3 })).toBe(false);
    expect(medianStop(curve(5, 5), completed, { minEpochs: 1, minTrials: 3 })).toBe(true);
    expect(medianStop(curve(5, 5, 5, 5, 5), completed, { minEpochs: 1, minTrials: 1 })).toBe(false);
  });
});

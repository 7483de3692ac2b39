import { describe, expect, it } from 'vitest';
import { Asha, ashaRungs } from './asha';

describe('ASHA', () => {
  it.each([
    [{ minEpochs: 1, reductionFactor: 3 }, 27, [1, 3, 9]],
    [{ minEpochs: 1, reductionFactor: 3 }, 28, [1, 3, 9, 27]],
    [{ minEpochs: 2, reductionFactor: 2 }, 12, [2, 4, 8]],
    [{ minEpochs: 5, reductionFactor: 3 }, 5, []],
  ])('rungs of %j below %i epochs are %j', (options, max, rungs) => {
    expect(ashaRungs(options, max)).toEqual(rungs);
  });

  it('stops exactly the trials outside the top ceil(n/eta) at each rung, on a scripted objective', () => {
    // eta = 3; losses reported in this order at rung 1, then survivors at rung 3
    const asha = new Asha({ minEpochs: 1, reductionFactor: 3 }, 9);
    const atRung1: Array<[number, number]> = [
      [0, 0.5], // n=1, keep 1: continue
      [1, 0.7], // n=2, keep 1: 0.5 < 0.7, stop
      [2, 0.4], // n=3, keep 1: best, continue
      [3, 0.45], // n=4, keep 2: rank 2, continue
      [4, 0.6], // n=5, keep 2: rank 4, stop
      [5, 0.3], // n=6, keep 2: rank 1, continue
      [6, 0.5], // n=7, keep 3: rank 5 (ties with trial 0, which is earlier), stop
    ];
    const stopped1 = atRung1.filter(([t, l]) => asha.report(t, 1, l) === 'stop').map(([t]) => t);
    expect(stopped1).toEqual([1, 4, 6]);
    const atRung3: Array<[number, number]> = [
      [0, 0.35], // n=1: continue
      [2, 0.3], // n=2, keep 1: best, continue
      [3, 0.32], // n=3, keep 1: rank 2, stop
      [5, 0.1], // n=4, keep 2: rank 1, continue
    ];
    const stopped3 = atRung3.filter(([t, l]) => asha.report(t, 3, l) === 'stop').map(([t]) => t);
    expect(stopped3).toEqual([3]);
    expect(asha.rungs.get(3)!.map((e) => e.trial)).toEqual([0, 2, 3, 5]);
  });

  it('breaks ties by trial index and counts NaN as the worst loss', () => {
    const asha = new Asha({ minEpochs: 1, reductionFactor: 2 }, 4);
    expect(asha.report(5, 1, 0.2)).toBe('continue');
    expect(asha.report(3, 1, 0.2)).toBe('continue'); // n=2, keep 1: tie, 3 < 5 ranks first
    expect(asha.report(7, 1, NaN)).toBe('stop');
    expect(() => asha.report(1, 2.5, 0)).toThrow(/no rung at epoch 2\.5/);
  });
});

import { describe, expect, it } from 'vitest';
import { AHEAD_WAIT_MAX_MS, AHEAD_WAIT_MIN_MS, StepPace } from './step-pace';

describe('StepPace', () => {
  it('waits the minimum before it has timed a step', () => {
    const pace = new StepPace();
    expect(pace.aheadWaitMs()).toBe(AHEAD_WAIT_MIN_MS);
    pace.saw(4, 1000);
    expect(pace.aheadWaitMs()).toBe(AHEAD_WAIT_MIN_MS);
  });

  it('waits two step intervals, the median of the last five', () => {
    const pace = new StepPace();
    pace.saw(0, 0);
    pace.saw(1, 400); // intervals 400
    expect(pace.aheadWaitMs()).toBe(800);
    pace.saw(2, 1000); // 400 600: median 500
    expect(pace.aheadWaitMs()).toBe(1000);
    pace.saw(3, 1300); // 400 600 300: 400
    expect(pace.aheadWaitMs()).toBe(800);
    pace.saw(4, 4300); // a fault's slow step: 400 600 300 3000: 500
    expect(pace.aheadWaitMs()).toBe(1000);
    for (let v = 5; v <= 8; v++) pace.saw(v, 4300 + (v - 4) * 200); // the window keeps 3000 and four 200s
    expect(pace.aheadWaitMs()).toBe(400);
  });

  it('keeps the minimum for fast steps and the maximum for slow ones', () => {
    const fast = new StepPace();
    for (let v = 0; v < 10; v++) fast.saw(v, v * 30);
    expect(fast.aheadWaitMs()).toBe(AHEAD_WAIT_MIN_MS);
    const slow = new StepPace();
    for (let v = 0; v < 10; v++) slow.saw(v, v * 60_000);
    expect(slow.aheadWaitMs()).toBe(AHEAD_WAIT_MAX_MS);
  });

  it('times only consecutive versions: a skipped version (another worker had the step) or an old one does not count', () => {
    const pace = new StepPace();
    pace.saw(0, 0);
    pace.saw(1, 300); // 300
    pace.saw(5, 20_000); // not consecutive: no interval
    pace.saw(3, 21_000); // older than the last: ignored
    pace.saw(6, 20_500); // 300 500: median 400
    expect(pace.aheadWaitMs()).toBe(800);
  });
});

import { describe, expect, it } from 'vitest';
import { encodeSliceMarker, parseSliceMarker } from './slice-marker';

describe('slice markers', () => {
  it('round-trip the sum of squares and the totals exactly, NaN and Infinity included', () => {
    const totals = { loss: 0.1 + 0.2, correct: 97, rows: 128 };
    expect(parseSliceMarker(encodeSliceMarker({ sq: 1 / 3, totals }), 'm')).toEqual({ sq: 1 / 3, totals });
    expect(parseSliceMarker(encodeSliceMarker({ sq: 2.5e-9 }), 'm')).toEqual({ sq: 2.5e-9 });
    const poisoned = parseSliceMarker(encodeSliceMarker({ sq: Infinity, totals: { ...totals, loss: NaN } }), 'm');
    expect(poisoned.sq).toBe(Infinity);
    expect(poisoned.totals?.loss).toBeNaN();
  });

  it('refuses malformed text, naming where it came from', () => {
    expect(() => parseSliceMarker('1 2', 'step 4 slice 2')).toThrow('step 4 slice 2: malformed slice marker "1 2"');
    expect(() => parseSliceMarker('1 2 3.5 4', 'x')).toThrow(/malformed/);
  });
});

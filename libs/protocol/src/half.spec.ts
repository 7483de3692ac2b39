import { describe, expect, it } from 'vitest';
import { decodeHalf, encodeHalf, fromFloat16, roundToPrecision, toBfloat16, toFloat16 } from './half';

describe('half-precision gradient transfer', () => {
  it.each([
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [65520, 0x7c00],
    [2 ** -24, 0x0001],
    [2 ** -14, 0x0400],
    [1 + 2 ** -11, 0x3c00],
    [1 + 3 * 2 ** -11, 0x3c02],
    [0, 0],
  ])('float16 of %f is %s (round to nearest even)', (x, bits) => {
    expect(toFloat16(x)).toBe(bits);
  });

  it('round-trips every float16 value exactly', () => {
    for (let h = 0; h < 0x10000; h++) {
      const x = fromFloat16(h);
      if (Number.isNaN(x)) continue;
      expect(toFloat16(x)).toBe(h === 0x8000 ? 0x8000 : h);
    }
  });

  it('bfloat16 keeps the top 16 bits, rounded to nearest even', () => {
    expect(toBfloat16(1)).toBe(0x3f80);
    expect(toBfloat16(1 + 2 ** -8)).toBe(0x3f80);
    expect(toBfloat16(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(Number.isNaN(decodeHalf(encodeHalf(Float32Array.of(NaN), 'bfloat16'), 'bfloat16')[0])).toBe(true);
  });

  it.each(['bfloat16', 'float16'] as const)('decode(encode(x)) is roundToPrecision(x) for %s', (p) => {
    const x = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 10 ** ((i % 9) - 6));
    const r = x.slice();
    roundToPrecision(r, p);
    expect(Buffer.from(decodeHalf(encodeHalf(x, p), p).buffer).equals(Buffer.from(r.buffer))).toBe(true);
  });
});

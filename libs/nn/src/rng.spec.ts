import { describe, expect, it } from 'vitest';
import { createRng, permutation } from './rng';

describe('rng (xoshiro128**)', () => {
  it('matches the reference stream from state [1, 2, 3, 4]', () => {
    const r = createRng([1, 2, 3, 4]);
    // reference values of xoshiro128** (Blackman & Vigna's C code) from state {1, 2, 3, 4}
    expect([r.nextUint32(), r.nextUint32(), r.nextUint32()]).toEqual([11520, 0, 5927040]);
  });
  it('replays from a saved state', () => {
    const a = createRng(42);
    a.next();
    const b = createRng(a.state());
    expect([a.next(), a.normal()]).toEqual([b.next(), b.normal()]);
  });
  it('draws a permutation', () => {
    const p = Array.from(permutation(10, createRng(7)));
    expect([...p].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(p).toEqual(Array.from(permutation(10, createRng(7))));
  });
});

import { describe, expect, it } from 'vitest';
import { batchRows, epochPermutation, shardRanges, splitIndices } from './splits';

describe('splitIndices', () => {
  it('cuts a seeded, disjoint, covering split', () => {
    const s = splitIndices(100, { validation: 0.2, test: 0.1, seed: 5 });
    expect([s.train.length, s.validation.length, s.test.length]).toEqual([70, 20, 10]);
    const all = [...s.train, ...s.validation, ...s.test].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(Array.from(s.train)).toEqual([...s.train].sort((a, b) => a - b));
    expect(splitIndices(100, { validation: 0.2, test: 0.1, seed: 5 })).toEqual(s);
    expect(splitIndices(100, { validation: 0.2, test: 0.1, seed: 6 }).test).not.toEqual(s.test);
  });

  it('uses an official test set as the test split', () => {
    const s = splitIndices(70, { validation: 0.1, seed: 1, officialTest: { start: 60, end: 70 } });
    expect(Array.from(s.test)).toEqual([60, 61, 62, 63, 64, 65, 66, 67, 68, 69]);
    expect(s.validation.length).toBe(6);
    expect(s.train.length).toBe(54);
    expect([...s.train, ...s.validation].every((r) => r < 60)).toBe(true);
    expect(() => splitIndices(70, { test: 0.1, seed: 1, officialTest: { start: 60, end: 70 } })).toThrow(
      /test fraction must be 0: the dataset has an official test set/,
    );
  });

  it('refuses impossible fractions', () => {
    expect(() => splitIndices(10, { validation: 0.6, test: 0.5, seed: 0 })).toThrow(
      /validation \+ test must be below 1/,
    );
    expect(() => splitIndices(10, { validation: -0.1, seed: 0 })).toThrow(/validation fraction must be in \[0, 1\)/);
  });
});

describe('epochPermutation', () => {
  it('is a permutation, deterministic per (seed, epoch), different across epochs', () => {
    const p0 = epochPermutation(50, 7, 0);
    expect([...p0].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(epochPermutation(50, 7, 0)).toEqual(p0);
    expect(epochPermutation(50, 7, 1)).not.toEqual(p0);
    expect(epochPermutation(50, 8, 0)).not.toEqual(p0);
  });

  it('maps a batch of positions to dataset rows', () => {
    const train = Uint32Array.from([10, 20, 30, 40]);
    const perm = Uint32Array.from([3, 1, 0, 2]);
    expect(Array.from(batchRows(train, perm, 1, 3))).toEqual([20, 10]);
  });
});

describe('shardRanges', () => {
  for (const [batch, shards, sizes] of [
    [10, 4, [3, 3, 2, 2]],
    [8, 2, [4, 4]],
    [3, 5, [1, 1, 1, 0, 0]],
    [256, 3, [86, 85, 85]],
  ] as const) {
    it(`batch ${batch} into ${shards} shards`, () => {
      const r = shardRanges(batch, shards);
      expect(r.map(([s, e]) => e - s)).toEqual(sizes);
      expect(r[0][0]).toBe(0);
      expect(r[r.length - 1][1]).toBe(batch);
      r.slice(1).forEach(([s], k) => expect(s).toBe(r[k][1]));
    });
  }
  it('refuses zero shards', () => expect(() => shardRanges(4, 0)).toThrow(/shards must be a positive integer/));
});

import { describe, expect, it } from 'vitest';
import { ShardSum, sumShards } from './step-reduce';

const shard = (values: number[], loss = 1, correct = 1, rows = 2) => ({
  grad: Float32Array.from(values),
  loss,
  correct,
  rows,
});

describe('sum of shard gradients', () => {
  it('adds in shard order with float32 rounding after every addition', () => {
    // 1 + 2^-24 rounds back to 1 in float32, so the order of the additions shows in the result
    const r = sumShards([shard([1]), shard([2 ** -24]), shard([2 ** -24])]);
    expect(r.grad[0]).toBe(1);
    const other = sumShards([shard([2 ** -24]), shard([2 ** -24]), shard([1])]);
    expect(other.grad[0]).toBe(Math.fround(1 + 2 ** -23));
  });

  it('gives the same bytes shard by shard as all at once, and totals loss, correct and rows', () => {
    const parts = [shard([0.1, -3], 0.5, 1, 3), shard([0.2, 5], 0.25, 0, 4), shard([1e-7, 7], 1, 2, 5)];
    const inc = new ShardSum(3, new Float32Array(2));
    for (const p of parts) inc.add(p);
    const a = inc.result();
    const b = sumShards(parts);
    expect(Buffer.from(a.grad.buffer).equals(Buffer.from(b.grad.buffer))).toBe(true);
    expect([a.loss, a.correct, a.rows]).toEqual([1.75, 3, 12]);
    expect(a.gradNorm).toBeCloseTo(Math.hypot(a.grad[0], a.grad[1]) / 12, 6);
  });

  it('reports a poisoned gradient through a non-finite norm', () => {
    expect(Number.isFinite(sumShards([shard([1]), shard([Number.NaN])]).gradNorm)).toBe(false);
  });

  it('refuses an incomplete sum', () => {
    const inc = new ShardSum(2, new Float32Array(1));
    inc.add(shard([1]));
    expect(() => inc.result()).toThrow(/only 1 of 2 shards were added/);
  });
});

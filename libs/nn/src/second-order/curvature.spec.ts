import { describe, expect, it } from 'vitest';
import { parseSpec } from '../spec';
import { XOR_PARAMS, XOR_SPEC, XOR_X, XOR_Y } from '../../../../test/support/xor';
import { hutchinsonTrace, topEigenvalue, type Product } from './curvature';
import { hessianVector64 } from './hessian-vector';

/** v -> M v for a dense symmetric matrix given by rows. */
const matrix =
  (M: number[][]): Product =>
  (v) =>
    Float64Array.from(M, (row) => row.reduce((s, m, j) => s + m * v[j], 0));

const diag = (d: number[]) => d.map((x, i) => d.map((_, j) => (i === j ? x : 0)));

describe('top Hessian eigenvalue by power iteration', () => {
  it('finds the eigenvalue of largest magnitude, negative at a saddle', async () => {
    expect((await topEigenvalue(matrix(diag([3, 2, 1, -0.5])), 4, 200, 1)).value).toBeCloseTo(3, 10);
    expect((await topEigenvalue(matrix(diag([5, -7, 1, 0.5])), 4, 200, 1)).value).toBeCloseTo(-7, 10);
  });

  it("gives the XOR Hessian's 24.0435 at the lecture weights (xor-hessian.spec) in 50 products", async () => {
    const spec = parseSpec(XOR_SPEC);
    const [p, x, y] = [XOR_PARAMS, XOR_X, XOR_Y].map((a) => Float64Array.from(a));
    const r = await topEigenvalue((v) => hessianVector64(spec, p, v, x, y, 4), 9, 50, 7);
    expect(r.value).toBeCloseTo(24.0435, 4);
    expect(r.products).toBe(50);
  });

  it('is the same number for the same seed, and refuses zero iterations', async () => {
    const M = matrix([
      [2, 1, 0],
      [1, 3, 1],
      [0, 1, 4],
    ]);
    const a = await topEigenvalue(M, 3, 5, 11);
    const b = await topEigenvalue(M, 3, 5, 11);
    expect(a.value).toBe(b.value);
    await expect(topEigenvalue(M, 3, 0, 1)).rejects.toThrow(/iterations must be at least 1, got 0/);
  });
});

describe('Hutchinson trace', () => {
  it('is exact on a diagonal matrix (z_i^2 = 1) whatever the probes', async () => {
    expect(await hutchinsonTrace(matrix(diag([3, -2, 0.5])), 3, 4, 5)).toBe(1.5);
  });

  it('estimates the trace of the XOR Hessian within 4 standard errors (2000 seeded probes)', async () => {
    const spec = parseSpec(XOR_SPEC);
    const [p, x, y] = [XOR_PARAMS, XOR_X, XOR_Y].map((a) => Float64Array.from(a));
    const H = (v: Float64Array) => hessianVector64(spec, p, v, x, y, 4);
    const cols = Array.from({ length: 9 }, (_, i) => H(Float64Array.from({ length: 9 }, (_, j) => (i === j ? 1 : 0))));
    const trace = cols.reduce((s, c, i) => s + c[i], 0);
    // Var z.Hz = 2 sum_{i != j} H_ij^2 for Rademacher z
    let off = 0;
    cols.forEach((c, i) => c.forEach((h, j) => (off += i === j ? 0 : h * h)));
    const se = Math.sqrt((2 * off) / 2000);
    const est = await hutchinsonTrace(H, 9, 2000, 3);
    expect(Math.abs(est - trace)).toBeLessThan(4 * se);
    expect(await hutchinsonTrace(H, 9, 2000, 3)).toBe(est);
  });
});

import { describe, expect, it } from 'vitest';
import { parseSpec } from '../spec';
import { XOR_PARAMS, XOR_SPEC, XOR_X, XOR_Y } from '../../../../test/support/xor';
import { gaussNewtonVector64, hessianVector64 } from './hessian-vector';

/**
 * The lecture's XOR network (h = relu(W^T x + c), out = w^T h + b, J = 1/2 sum (y - out)^2), its
 * full 9x9 Hessian by nine products H e_i, column by column, against the Hessian written out by
 * hand. Parameters: W11 W12 W21 W22 (W[i][j], input i, unit j), c1 c2, w1 w2, b. With e = out - y
 * and relu'(a) = [a > 0] (relu'(0) = 0, relu'' = 0):
 *   H = sum over samples of  g g^T + e d^2out,   g = dout/dparams = (w_j r_j x_i, w_j r_j, h_j, 1)
 *   d^2out/dw_j dW_ij = r_j x_i,  d^2out/dw_j dc_j = r_j  (r_j = relu'(a_j)), every other pair 0.
 * Two points: the lecture's weights (exact fit, e = 0, so H = G) and the linear model's optimum
 * w = 0, b = 1/2 with the lecture's W and c (out = 1/2 everywhere, e = +-1/2).
 */
const spec = parseSpec(XOR_SPEC);
const X = Float64Array.from(XOR_X);
const Y = Float64Array.from(XOR_Y);
const N = 9;
const LINEAR_OPTIMUM = [1, 1, 1, 1, 0, -1, 0, 0, 0.5];

function byProducts(p: number[], product = hessianVector64): number[][] {
  const cols = Array.from({ length: N }, (_, i) => {
    const e = new Float64Array(N);
    e[i] = 1;
    return Array.from(product(spec, Float64Array.from(p), e, X, Y, 4));
  });
  return cols[0].map((_, r) => cols.map((c) => c[r])); // columns -> rows
}

function byHand(p: number[]): number[][] {
  const H = Array.from({ length: N }, () => new Array<number>(N).fill(0));
  const [W, c, w, b] = [p.slice(0, 4), p.slice(4, 6), p.slice(6, 8), p[8]];
  for (let s = 0; s < 4; s++) {
    const x = [X[2 * s], X[2 * s + 1]];
    const a = [0, 1].map((j) => x[0] * W[j] + x[1] * W[2 + j] + c[j]);
    const r = a.map((aj) => (aj > 0 ? 1 : 0));
    const h = a.map((aj) => Math.max(aj, 0));
    const e = w[0] * h[0] + w[1] * h[1] + b - Y[s];
    const g = [
      ...[0, 1].flatMap((i) => [0, 1].map((j) => w[j] * r[j] * x[i])),
      w[0] * r[0],
      w[1] * r[1],
      h[0],
      h[1],
      1,
    ];
    for (let i = 0; i < N; i++) for (let k = 0; k < N; k++) H[i][k] += g[i] * g[k];
    for (let j = 0; j < 2; j++) {
      const mixed = [...[0, 1].map((i) => [2 * i + j, r[j] * x[i]]), [4 + j, r[j]]];
      for (const [q, d2] of mixed) {
        H[6 + j][q] += e * d2;
        H[q][6 + j] += e * d2;
      }
    }
  }
  return H;
}

/** Eigenvalues of a symmetric matrix by cyclic Jacobi rotations, ascending. */
function eigenvalues(M: number[][]): number[] {
  const A = M.map((r) => r.slice());
  const n = A.length;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += A[p][q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (A[p][q] === 0) continue;
        const theta = (A[q][q] - A[p][p]) / (2 * A[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const cs = 1 / Math.sqrt(t * t + 1);
        const sn = t * cs;
        for (let k = 0; k < n; k++) {
          const [akp, akq] = [A[k][p], A[k][q]];
          A[k][p] = cs * akp - sn * akq;
          A[k][q] = sn * akp + cs * akq;
        }
        for (let k = 0; k < n; k++) {
          const [apk, aqk] = [A[p][k], A[q][k]];
          A[p][k] = cs * apk - sn * aqk;
          A[q][k] = sn * apk + cs * aqk;
        }
      }
    }
  }
  return A.map((r, i) => r[i]).sort((u, v) => u - v);
}

const fmt = (xs: number[]) => xs.map((v) => (Math.abs(v) < 1e-12 ? 0 : +v.toFixed(4))).join(', ');

describe.each([
  ['the lecture weights', [...XOR_PARAMS]],
  ['the linear optimum w = 0, b = 1/2', LINEAR_OPTIMUM],
])('XOR Hessian at %s', (_, p) => {
  const H = byProducts(p);
  it(`is symmetric and equals the hand-written Hessian; eigenvalues [${fmt(eigenvalues(H))}]`, () => {
    const hand = byHand(p);
    for (let i = 0; i < N; i++) {
      for (let k = 0; k < N; k++) {
        expect(H[i][k]).toBe(H[k][i]);
        expect(H[i][k]).toBeCloseTo(hand[i][k], 12);
      }
    }
  });
});

describe('XOR Gauss-Newton matrix', () => {
  it('equals the Hessian at the lecture weights, where every residual is 0', () => {
    expect(byProducts([...XOR_PARAMS], gaussNewtonVector64)).toEqual(byProducts([...XOR_PARAMS]));
  });

  it('differs from it at the linear optimum by the residual terms and is positive semi-definite there', () => {
    const G = byProducts(LINEAR_OPTIMUM, gaussNewtonVector64);
    const H = byProducts(LINEAR_OPTIMUM);
    expect(G[6][4]).toBe(0); // d^2out/dw1 dc1 carries e only in H
    expect(H[6][4]).not.toBe(0);
    expect(Math.min(...eigenvalues(G))).toBeGreaterThan(-1e-12);
    expect(Math.min(...eigenvalues(H))).toBeLessThan(0); // a saddle: the linear optimum is not a minimum of the network
  });
});

import { describe, expect, it } from 'vitest';
import { sigmoid } from './activations';
import { lossAndGrad, lossAndGrad64 } from './network';
import { parseSpec, type NetworkSpec } from './spec';

/**
 * A softmax output with one class near p = 1, under the squared losses: dJ/da(L) must keep its
 * digits (issue #22, "Precision"). The textbook backward p_k (dh_k - sum_j p_j dh_j) and the
 * residual out - y both subtract numbers near 1 there and keep only the digits of 1 - p that p
 * carries: 2.2e-3 relative error at p = [7.9e-5, 0.99992] in float32, and in float64 from
 * 1 - p ~ 1e-12 on.
 *
 * The network: 2 inputs, one softmax layer of K units; x = [1, 2], kernel row 0 = the logits,
 * row 1 and the bias 0, so a(L) = logits exactly and dJ/dkernel = [delta; 2 delta], dJ/db = delta.
 */
type SquaredLoss = 'sum_of_squares' | 'mse';

/** Logits with class K-1 at p near 1 and the others near pSmall (distinct: pSmall e^{-j/4}). */
function saturatedLogits(K: number, pSmall: number): Float64Array {
  const a = new Float64Array(K);
  for (let j = 0; j < K - 1; j++) a[j] = Math.fround(Math.log(pSmall) - j / 4);
  return a;
}

function oneLayer(K: number, loss: SquaredLoss): NetworkSpec {
  return parseSpec({ inputSize: 2, layers: [{ units: K, activation: 'softmax' }], loss });
}

/** Flat params [kernel row 0 = logits, row 1 = 0, bias = 0]. */
function paramsFor(logits: Float64Array): Float64Array {
  const p = new Float64Array(3 * logits.length);
  p.set(logits);
  return p;
}

/**
 * Reference dJ/da of one softmax row in float64, written from the logits and the Jacobian
 * dp_j/da_k = p_k (1[j = k] - p_j), apart from libs/nn: with e_j = exp(a_j - a_m) (m the largest),
 * S = 1 + sum_{j != m} e_j, p_j = e_j / S and 1 - p_m = sum_{j != m} e_j / S from the small terms.
 * y is one-hot; r = dJ/dp = s (p - y), s = 1 (sum_of_squares) or 2/K (mse).
 */
function referenceDelta(a: Float64Array, y: Float64Array, loss: SquaredLoss): number[] {
  const K = a.length;
  let m = 0;
  for (let k = 1; k < K; k++) if (a[k] > a[m]) m = k;
  const e = Array.from(a, (v) => Math.exp(v - a[m]));
  let small = 0;
  for (let j = 0; j < K; j++) if (j !== m) small += e[j];
  const S = 1 + small;
  const p = e.map((v) => v / S);
  const oneMinusP = p.map((v, j) => (j === m ? small / S : 1 - v)); // 1 - p_j >= 1/2 for j != m
  const s = loss === 'mse' ? 2 / K : 1;
  const r = p.map((v, j) => s * (y[j] === 1 ? -oneMinusP[j] : v - y[j]));
  // delta_k = sum_j dp_j/da_k r_j = p_k (1 - p_k) r_k - p_k sum_{j != k} p_j r_j
  return p.map((pk, k) => {
    let others = 0;
    for (let j = 0; j < K; j++) if (j !== k) others += p[j] * r[j];
    return pk * oneMinusP[k] * r[k] - pk * others;
  });
}

/** The reference gradient of the one-layer network: [delta; 2 delta] then delta. */
function referenceGrad(a: Float64Array, y: Float64Array, loss: SquaredLoss): number[] {
  const d = referenceDelta(a, y, loss);
  return [...d, ...d.map((v) => 2 * v), ...d];
}

/** Largest relative error over the tensors kernel and bias (no absolute floor: the values are tiny). */
function worstTensorError(got: ArrayLike<number>, want: readonly number[], K: number): number {
  const err = (from: number, to: number) => {
    let d = 0;
    let n = 0;
    for (let i = from; i < to; i++) {
      d += (got[i] - want[i]) ** 2;
      n += want[i] ** 2;
    }
    expect(n).toBeGreaterThan(0);
    return Math.sqrt(d / n);
  };
  return Math.max(err(0, 2 * K), err(2 * K, 3 * K));
}

const oneHot = (K: number, k: number) => Float64Array.from({ length: K }, (_, j) => (j === k ? 1 : 0));
const X = Float64Array.of(1, 2);

const CASES = [2, 3, 10].flatMap((K) =>
  [7.9e-5, 1e-7, 1e-15].flatMap((pSmall) =>
    (['sum_of_squares', 'mse'] as const).flatMap((loss) =>
      (['right', 'wrong'] as const).map((target) => ({ K, pSmall, loss, target })),
    ),
  ),
);
const targetOf = (K: number, target: 'right' | 'wrong') => oneHot(K, target === 'right' ? K - 1 : 0);

describe('softmax under squared losses near p = 1: the reference', () => {
  it.each([7.9e-5, 1e-7, 1e-15, 1e-30])('agrees with the two-class closed form sigmoid at p = %s', (pSmall) => {
    // K = 2: p_1 = sigmoid(z), z = a_1 - a_0; delta_1 = -delta_0 = p_0 p_1 (r_1 - r_0)
    const a = saturatedLogits(2, pSmall);
    const z = a[1] - a[0];
    const [p0, p1] = [sigmoid(-z), sigmoid(z)];
    const d1 = p0 * p1 * (-p0 - p0); // y = [0, 1]: r = [p_0, p_1 - 1] = [p_0, -p_0]
    const ref = referenceDelta(a, oneHot(2, 1), 'sum_of_squares');
    expect(Math.abs(ref[1] - d1) / Math.abs(d1)).toBeLessThan(1e-14);
    expect(Math.abs(ref[0] + d1) / Math.abs(d1)).toBeLessThan(1e-14);
  });

  it('makes the cases sharp: the textbook backward misses the issue case by more than 1e-4 in float32', () => {
    // p = [7.9e-5, 0.99992], y = [0, 1]: r = p - y and delta_k = p_k (r_k - sum_j p_j r_j), rounded as float32
    const f = Math.fround;
    const a = Float64Array.of(Math.fround(Math.log(7.9e-5 / 0.99992)), 0);
    const m = Math.max(a[0], a[1]);
    const e = Array.from(a, (v) => f(Math.exp(f(v - m))));
    const p = e.map((v) => f(v / f(e[0] + e[1])));
    const r = [f(p[0] - 0), f(p[1] - 1)];
    const pr = f(f(p[0] * r[0]) + f(p[1] * r[1]));
    const textbook = [f(p[0] * f(r[0] - pr)), f(p[1] * f(r[1] - pr))];
    const ref = referenceDelta(a, oneHot(2, 1), 'sum_of_squares');
    expect(Math.abs(textbook[1] - ref[1]) / Math.abs(ref[1])).toBeGreaterThan(1e-4);
  });
});

describe('softmax under squared losses near p = 1: libs/nn against the float64 reference', () => {
  it.each(CASES)(
    'K $K, p = $pSmall, $loss, target $target: float32 within 1e-6 per tensor, float64 within 1e-12',
    ({ K, pSmall, loss, target }) => {
      const spec = oneLayer(K, loss);
      const a = saturatedLogits(K, pSmall);
      const y = targetOf(K, target);
      const want = referenceGrad(a, y, loss);
      const g32 = lossAndGrad(spec, Float32Array.from(paramsFor(a)), Float32Array.from(X), Float32Array.from(y), 1);
      const g64 = lossAndGrad64(spec, paramsFor(a), X, y, 1);
      expect(worstTensorError(g32.grad, want, K)).toBeLessThan(1e-6);
      expect(worstTensorError(g64.grad, want, K)).toBeLessThan(1e-12);
    },
  );

  it.each([1e-20, 1e-30])('keeps float64 digits where float32 cannot hold the gradient: p = %s', (pSmall) => {
    for (const K of [2, 10]) {
      const a = saturatedLogits(K, pSmall);
      const y = oneHot(K, K - 1);
      const g64 = lossAndGrad64(oneLayer(K, 'sum_of_squares'), paramsFor(a), X, y, 1);
      expect(worstTensorError(g64.grad, referenceGrad(a, y, 'sum_of_squares'), K)).toBeLessThan(1e-12);
    }
  });
});

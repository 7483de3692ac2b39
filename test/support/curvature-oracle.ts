/**
 * Float64 oracles of the curvature products (libs/nn second-order), built from other code: the
 * reference forward and backprop and five-point differences, never the R-operator. A test fixture.
 *   H v ~ central difference of the backprop gradient along v:
 *         (8 (g(p + e v) - g(p - e v)) - (g(p + 2e v) - g(p - 2e v))) / 12e
 *   G v = J^T (H_out J v): J v by the same stencil on the forward pass, H_out applied by hand, and
 *         J^T u as the backprop gradient of the sum of squares with targets z - u on the network
 *         whose output z is h(L) (regression) or a(L) (cross-entropy: the output layer made identity).
 */
import { forward64, lossAndGrad64, parseSpec, type NetworkSpec } from '@nnq/nn';

const E = 1e-4;

function stencil(f: (e: number) => Float64Array): Float64Array {
  const [p1, m1, p2, m2] = [f(E), f(-E), f(2 * E), f(-2 * E)];
  return p1.map((_, i) => (8 * (p1[i] - m1[i]) - (p2[i] - m2[i])) / (12 * E));
}

function along(p: Float64Array, v: Float64Array, e: number): Float64Array {
  return p.map((pi, i) => pi + e * v[i]);
}

/** A float64 curvature product along v at parameters p and a batch (x, y). */
type Oracle = (
  spec: NetworkSpec,
  p: Float64Array,
  v: Float64Array,
  x: Float64Array,
  y: Float64Array,
  batch: number,
) => Float64Array;

/** H v by differences of the float64 gradient along v. */
export const hessianVectorOracle: Oracle = (spec, p, v, x, y, batch) =>
  stencil((e) => lossAndGrad64(spec, along(p, v, e), x, y, batch).grad);

/** G v = J^T H_out J v from forward differences, H_out by hand and backprop. */
export const gaussNewtonOracle: Oracle = (spec, p, v, x, y, batch) => {
  const zSpec = outputNetwork(spec);
  const z = forward64(zSpec, p, x, batch);
  const jv = stencil((e) => forward64(zSpec, along(p, v, e), x, batch));
  const u = applyHout(spec, z, jv, batch);
  // grad of 1/2 |(z - u) - z(p)|^2 at p is J^T u
  return lossAndGrad64(
    zSpec,
    p,
    x,
    z.map((zi, i) => zi - u[i]),
    batch,
  ).grad;
};

/** H_out u at the output z of a batch: c u (regression) or the softmax / sigmoid Hessian in the logits. */
function applyHout(spec: NetworkSpec, z: Float64Array, u: Float64Array, batch: number): Float64Array {
  const K = z.length / batch;
  const out = new Float64Array(u.length);
  for (let r = 0; r < batch; r++) {
    const o = r * K;
    if (spec.loss === 'softmax_cross_entropy') {
      let m = -Infinity;
      for (let k = 0; k < K; k++) m = Math.max(m, z[o + k]);
      const e = Array.from({ length: K }, (_, k) => Math.exp(z[o + k] - m));
      const s = e.reduce((a, b) => a + b, 0);
      const p = e.map((ek) => ek / s);
      const pu = p.reduce((acc, pk, k) => acc + pk * u[o + k], 0);
      for (let k = 0; k < K; k++) out[o + k] = p[k] * (u[o + k] - pu); // (diag(p) - p p^T) u
    } else if (spec.loss === 'sigmoid_binary_cross_entropy') {
      for (let k = 0; k < K; k++) {
        const p = 1 / (1 + Math.exp(-z[o + k]));
        out[o + k] = p * (1 - p) * u[o + k];
      }
    } else {
      const c = spec.loss === 'mse' ? 2 / K : 1;
      for (let k = 0; k < K; k++) out[o + k] = c * u[o + k];
    }
  }
  return out;
}

/** The same network with output z as a sum-of-squares regression: h(L), or a(L) for the cross-entropies. */
function outputNetwork(spec: NetworkSpec): NetworkSpec {
  const fused = spec.loss === 'softmax_cross_entropy' || spec.loss === 'sigmoid_binary_cross_entropy';
  const layers = spec.layers.map((l, k) =>
    fused && k === spec.layers.length - 1 ? { ...l, activation: 'identity' as const } : l,
  );
  return parseSpec({ ...spec, layers, loss: 'sum_of_squares' });
}

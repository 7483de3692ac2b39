import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flatMask, paramLayout } from '../layout';
import { forward64, forwardTrace, lossAndGrad64 } from '../network';
import { createRng, type Rng } from '../rng';
import { parseSpec, type DenseLayer, type NetworkSpec } from '../spec';
import { randomCase, randomData, randomParams } from '../../../../test/support/random-network';
import { gaussNewtonVector64, hessianVector64 } from './hessian-vector';

/**
 * H v and G v against float64 oracles built from other code, on random networks:
 *   H v ~ five-point central difference of the backprop gradient along v:
 *         (8 (g(p + e v) - g(p - e v)) - (g(p + 2e v) - g(p - 2e v))) / 12e
 *   G v = J^T (H_out J v): J v by the same stencil on the forward pass, H_out applied by hand, and
 *         J^T u as the backprop gradient of the sum of squares with targets z - u on the network
 *         whose output z is h(L) (regression) or a(L) (cross-entropy: the output layer made identity).
 */
const E = 1e-4;
// relu and leaky_relu have a kink at 0 and elu a jump in f'' there: keep pre-activations away from it
const KINKED = new Set(['relu', 'leaky_relu', 'elu']);

function stencil(f: (e: number) => Float64Array): Float64Array {
  const [p1, m1, p2, m2] = [f(E), f(-E), f(2 * E), f(-2 * E)];
  return p1.map((_, i) => (8 * (p1[i] - m1[i]) - (p2[i] - m2[i])) / (12 * E));
}

function along(p: Float64Array, v: Float64Array, e: number): Float64Array {
  return p.map((pi, i) => pi + e * v[i]);
}

/** Parameters, data and a direction of a random case whose kinked units stay away from their kink. */
function setUp(spec: NetworkSpec, batch: number, rng: Rng) {
  const layout = paramLayout(spec);
  const p = randomParams(layout.size, rng);
  const { x, y } = randomData(spec, batch, rng);
  const v = Float64Array.from({ length: layout.size }, () => rng.normal());
  const t = forwardTrace(spec, p, x, batch);
  const kinky = (spec.layers as DenseLayer[]).some(
    (l, k) => KINKED.has(l.activation) && t.a[k + 1].some((a) => Math.abs(a) < 0.05),
  );
  return { layout, p, x, y, v, kinky, mask: flatMask(spec, layout) };
}

function relErr(ours: number, truth: number, scale: number): number {
  return Math.abs(ours - truth) / Math.max(Math.abs(truth), scale, 1e-3);
}

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

/** The same network with output z as a sum-of-squares regression: h(L) itself, or a(L) for the cross-entropies. */
function outputNetwork(spec: NetworkSpec): NetworkSpec {
  const fused = spec.loss === 'softmax_cross_entropy' || spec.loss === 'sigmoid_binary_cross_entropy';
  const layers = spec.layers.map((l, k) =>
    fused && k === spec.layers.length - 1 ? { ...l, activation: 'identity' as const } : l,
  );
  return parseSpec({ ...spec, layers, loss: 'sum_of_squares' });
}

describe('H v by the R-operator vs central differences of the float64 gradient', () => {
  it('agrees per element to 1e-6 relative on 300 random specs (every activation, loss, mask, skip)', () => {
    let worst = 0;
    let checked = 0;
    fc.assert(
      fc.property(randomCase, ({ spec, batch, seed }) => {
        const { layout, p, x, y, v, kinky, mask } = setUp(spec, batch, createRng(seed));
        fc.pre(!kinky);
        const hv = hessianVector64(spec, p, v, x, y, batch);
        const fd = stencil((e) => lossAndGrad64(spec, along(p, v, e), x, y, batch).grad);
        const scale = Math.max(...Array.from(fd, Math.abs)) * 1e-6;
        for (let i = 0; i < layout.size; i++) {
          if (mask && mask[i] === 0) {
            expect(hv[i]).toBe(0); // a removed connection has no curvature
            continue;
          }
          const rel = relErr(hv[i], fd[i], scale);
          worst = Math.max(worst, rel);
          checked++;
          if (!(rel < 1e-6)) throw new Error(`param ${i}: Hv ${hv[i]} vs fd ${fd[i]} in ${JSON.stringify(spec)}`);
        }
      }),
      { numRuns: 300, seed: 20261, endOnFailure: true },
    );
    console.log(`Hv vs finite differences: ${checked} elements, worst relative error ${worst.toExponential(2)}`);
  });
});

describe('G v = J^T H_out J v vs an oracle of forward differences and backprop (float64)', () => {
  it('agrees per element to 1e-6 relative on 300 random specs', () => {
    let worst = 0;
    fc.assert(
      fc.property(randomCase, ({ spec, batch, seed }) => {
        const { layout, p, x, y, v, kinky, mask } = setUp(spec, batch, createRng(seed));
        fc.pre(!kinky);
        const gv = gaussNewtonVector64(spec, p, v, x, y, batch);
        const zSpec = outputNetwork(spec);
        const z = forward64(zSpec, p, x, batch);
        const jv = stencil((e) => forward64(zSpec, along(p, v, e), x, batch));
        const u = applyHout(spec, z, jv, batch);
        // grad of 1/2 |(z - u) - z(p)|^2 at p is J^T u
        const truth = lossAndGrad64(
          zSpec,
          p,
          x,
          z.map((zi, i) => zi - u[i]),
          batch,
        ).grad;
        const scale = Math.max(...Array.from(truth, Math.abs)) * 1e-6;
        for (let i = 0; i < layout.size; i++) {
          if (mask && mask[i] === 0) {
            expect(gv[i]).toBe(0);
            continue;
          }
          const rel = relErr(gv[i], truth[i], scale);
          worst = Math.max(worst, rel);
          if (!(rel < 1e-6))
            throw new Error(`param ${i}: Gv ${gv[i]} vs oracle ${truth[i]} in ${JSON.stringify(spec)}`);
        }
      }),
      { numRuns: 300, seed: 20262, endOnFailure: true },
    );
    console.log(`Gv vs oracle: worst relative error ${worst.toExponential(2)}`);
  });

  it('is H v for a model linear in its parameters under a quadratic loss (identity, sum of squares)', () => {
    const spec = parseSpec({ inputSize: 3, layers: [{ units: 2, activation: 'identity' }], loss: 'sum_of_squares' });
    const rng = createRng(7);
    const p = randomParams(8, rng);
    const { x, y } = randomData(spec, 4, rng);
    const v = Float64Array.from({ length: 8 }, () => rng.normal());
    const hv = hessianVector64(spec, p, v, x, y, 4);
    const gv = gaussNewtonVector64(spec, p, v, x, y, 4);
    for (let i = 0; i < 8; i++) expect(gv[i]).toBeCloseTo(hv[i], 12);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flatMask, paramLayout } from '../layout';
import { forwardTrace } from '../network';
import { createRng, type Rng } from '../rng';
import { parseSpec, type DenseLayer, type NetworkSpec } from '../spec';
import { gaussNewtonOracle, hessianVectorOracle } from '../../../../test/support/curvature-oracle';
import { randomCase, randomData, randomParams } from '../../../../test/support/random-network';
import { gaussNewtonVector64, hessianVector64 } from './hessian-vector';

/**
 * H v and G v against float64 oracles built from other code (test/support/curvature-oracle.ts),
 * per element, on random networks.
 */
// relu and leaky_relu have a kink at 0 and elu a jump in f'' there: keep pre-activations away from it
const KINKED = new Set(['relu', 'leaky_relu', 'elu']);

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

describe('H v by the R-operator vs central differences of the float64 gradient', () => {
  it('agrees per element to 1e-6 relative on 300 random specs (every activation, loss, mask, skip)', () => {
    let worst = 0;
    let checked = 0;
    fc.assert(
      fc.property(randomCase, ({ spec, batch, seed }) => {
        const { layout, p, x, y, v, kinky, mask } = setUp(spec, batch, createRng(seed));
        fc.pre(!kinky);
        const hv = hessianVector64(spec, p, v, x, y, batch);
        const fd = hessianVectorOracle(spec, p, v, x, y, batch);
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
        const truth = gaussNewtonOracle(spec, p, v, x, y, batch);
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

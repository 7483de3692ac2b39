import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flatMask } from '../layout';
import { createRng } from '../rng';
import { parseSpec } from '../spec';
import { gaussNewtonOracle, hessianVectorOracle } from '../../../../test/support/curvature-oracle';
import { checkElements, drawCase, nearKink } from '../../../../test/support/gradient-check';
import { randomCase, randomData, randomParams } from '../../../../test/support/random-network';
import { gaussNewtonVector64, hessianVector64 } from './hessian-vector';

/**
 * H v and G v against float64 oracles built from other code (test/support/curvature-oracle.ts),
 * per element, on random networks; a removed connection must have exactly no curvature.
 */

describe('H v by the R-operator vs central differences of the float64 gradient', () => {
  it('agrees per element to 1e-6 relative on 300 random specs (every activation, loss, mask, skip)', () => {
    let worst = 0;
    let checked = 0;
    fc.assert(
      fc.property(randomCase, ({ spec, batch, seed }) => {
        const { layout, p, x, y, v, t } = drawCase(spec, batch, seed);
        fc.pre(!nearKink(spec, t));
        const hv = hessianVector64(spec, p, v, x, y, batch);
        const fd = hessianVectorOracle(spec, p, v, x, y, batch);
        const r = checkElements(hv, fd, flatMask(spec, layout), (i) => {
          return `param ${i}: Hv ${hv[i]} vs fd ${fd[i]} in ${JSON.stringify(spec)}`;
        });
        worst = Math.max(worst, r.worst);
        checked += r.checked;
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
        const { layout, p, x, y, v, t } = drawCase(spec, batch, seed);
        fc.pre(!nearKink(spec, t));
        const gv = gaussNewtonVector64(spec, p, v, x, y, batch);
        const truth = gaussNewtonOracle(spec, p, v, x, y, batch);
        const r = checkElements(gv, truth, flatMask(spec, layout), (i) => {
          return `param ${i}: Gv ${gv[i]} vs oracle ${truth[i]} in ${JSON.stringify(spec)}`;
        });
        worst = Math.max(worst, r.worst);
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

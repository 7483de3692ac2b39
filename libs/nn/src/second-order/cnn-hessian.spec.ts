import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gaussNewtonOracle, hessianVectorOracle } from '../../../../test/support/curvature-oracle';
import { checkElements, drawCase, nearKink, nearMaxPoolTie } from '../../../../test/support/gradient-check';
import { randomCnnCase } from '../../../../test/support/random-network';
import { gaussNewtonVector64, hessianVector64 } from './hessian-vector';

/**
 * H v and G v through conv2d, pooling and flatten layers (spatial-r.ts) against the float64
 * oracles of test/support/curvature-oracle.ts (differences of the gradient, forward differences
 * and backprop), per element, on random CNN specs.
 */

describe('curvature products of CNNs by the R-operator vs float64 oracles', () => {
  it('H v and G v agree per element to 1e-6 relative on 220 random CNN specs (conv, pools, flatten, skips)', () => {
    let worst = 0;
    let worstG = 0;
    let specs = 0;
    fc.assert(
      fc.property(randomCnnCase, ({ spec, batch, seed }) => {
        const { layout, p, x, y, v, t } = drawCase(spec, batch, seed);
        fc.pre(!nearKink(spec, t) && !nearMaxPoolTie(layout, t, batch, 0.01));
        const hv = hessianVector64(spec, p, v, x, y, batch);
        const fd = hessianVectorOracle(spec, p, v, x, y, batch);
        const r = checkElements(
          hv,
          fd,
          null,
          (i) => `param ${i}: Hv ${hv[i]} vs fd ${fd[i]} in ${JSON.stringify(spec)}`,
        );
        worst = Math.max(worst, r.worst);
        const gv = gaussNewtonVector64(spec, p, v, x, y, batch);
        const gvTruth = gaussNewtonOracle(spec, p, v, x, y, batch);
        const g = checkElements(gv, gvTruth, null, (i) => {
          return `param ${i}: Gv ${gv[i]} vs ${gvTruth[i]} in ${JSON.stringify(spec)}`;
        });
        worstG = Math.max(worstG, g.worst);
        specs++;
      }),
      { numRuns: 220, seed: 20_419, endOnFailure: true },
    );
    expect(specs).toBeGreaterThanOrEqual(200);
    console.log(`CNN Hv, Gv vs oracles: ${specs} specs, worst ${worst.toExponential(2)}, ${worstG.toExponential(2)}`);
  });
});

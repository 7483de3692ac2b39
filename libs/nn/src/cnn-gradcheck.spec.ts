import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkGradient, drawCase, nearKink, nearMaxPoolTie } from '../../../test/support/gradient-check';
import { randomCnnCase } from '../../../test/support/random-network';

/**
 * Conv2D, pooling and flatten backprop against central finite differences in float64, every
 * parameter of 240 random CNN specs. Five-point stencil as in gradcheck.spec.ts; draws near a
 * kink or a max-pool tie (test/support/gradient-check.ts) are dropped.
 */

describe('gradient check of CNNs: backprop vs central finite differences (float64)', () => {
  it('agrees to 1e-6 relative on every parameter of random CNN specs (conv, pools, flatten, skips)', () => {
    let worst = 0;
    let checked = 0;
    let specs = 0;
    fc.assert(
      fc.property(randomCnnCase, ({ spec, batch, seed }) => {
        const { layout, p, x, y, t } = drawCase(spec, batch, seed);
        fc.pre(!nearKink(spec, t) && !nearMaxPoolTie(layout, t, batch, 0.01));
        const r = checkGradient(spec, p, x, y, batch);
        worst = Math.max(worst, r.worst);
        checked += r.checked;
        specs++;
      }),
      { numRuns: 240, seed: 19019, endOnFailure: true },
    );
    // fc.pre drops near-kink draws; at least 200 specs must have been checked in full
    expect(specs).toBeGreaterThanOrEqual(200);
    console.log(
      `CNN gradient check: ${specs} specs, ${checked} parameters, worst relative error ${worst.toExponential(2)}`,
    );
  });
});

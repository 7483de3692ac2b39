import fc from 'fast-check';
import { describe, it } from 'vitest';
import { checkGradient, drawCase, nearKink } from '../../../test/support/gradient-check';
import { randomCase } from '../../../test/support/random-network';

/**
 * Backprop against central finite differences in float64, on random networks (five-point stencil of
 * test/support/gradient-check.ts, error O(h^4)).
 */

describe('gradient check: backprop vs central finite differences (float64)', () => {
  it('agrees to 1e-6 relative on random specs (every activation, loss, mask, skip)', () => {
    let worst = 0;
    let checked = 0;
    fc.assert(
      fc.property(randomCase, ({ spec, batch, seed }) => {
        const { p, x, y, t } = drawCase(spec, batch, seed);
        // keep the pre-activations of kinked layers away from 0 (measure zero)
        fc.pre(!nearKink(spec, t));
        const r = checkGradient(spec, p, x, y, batch);
        worst = Math.max(worst, r.worst);
        checked += r.checked;
      }),
      { numRuns: 300, seed: 20260, endOnFailure: true },
    );
    console.log(`gradient check: ${checked} parameters, worst relative error ${worst.toExponential(2)}`);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flatMask, paramLayout } from './layout';
import { forwardTrace, lossAndGrad64 } from './network';
import { randomCase, randomData, randomParams } from '../../../test/support/random-network';
import { createRng } from './rng';
import { activationOf } from './spec';

/**
 * Backprop against central finite differences in float64, on random networks.
 * Five-point stencil: dJ/dp ~ (8 (J(p+h) - J(p-h)) - (J(p+2h) - J(p-2h))) / 12h, error O(h^4).
 */
const H = 1e-4;
// relu and leaky_relu have a kink at 0, elu a jump in its second derivative (the stencil's error is then O(h))
const KINKED = new Set(['relu', 'leaky_relu', 'elu']);

describe('gradient check: backprop vs central finite differences (float64)', () => {
  it('agrees to 1e-6 relative on random specs (every activation, loss, mask, skip)', () => {
    let worst = 0;
    let checked = 0;
    fc.assert(
      fc.property(randomCase, ({ spec, batch, seed }) => {
        const rng = createRng(seed);
        const layout = paramLayout(spec);
        const p = randomParams(layout.size, rng);
        const { x, y } = randomData(spec, batch, rng);
        // keep the pre-activations of KINKED layers away from 0 (measure zero)
        const t = forwardTrace(spec, p, x, batch);
        const nearKink = (a: Float64Array) => a.some((v) => Math.abs(v) < 0.05);
        const kinky = spec.layers.some((l, k) => KINKED.has(activationOf(l)) && nearKink(t.a[k + 1]));
        fc.pre(!kinky);

        const { grad } = lossAndGrad64(spec, p, x, y, batch);
        const J = (i: number, d: number) => {
          const q = Float64Array.from(p);
          q[i] += d;
          return lossAndGrad64(spec, q, x, y, batch).loss;
        };
        const mask = flatMask(spec, layout);
        for (let i = 0; i < layout.size; i++) {
          if (mask && mask[i] === 0) {
            expect(grad[i]).toBe(0); // a removed connection gets exactly no gradient
            continue;
          }
          const fd = (8 * (J(i, H) - J(i, -H)) - (J(i, 2 * H) - J(i, -2 * H))) / (12 * H);
          const rel = Math.abs(grad[i] - fd) / Math.max(Math.abs(grad[i]), Math.abs(fd), 1e-3);
          worst = Math.max(worst, rel);
          checked++;
          if (!(rel < 1e-6)) {
            const where = `param ${i}: backprop ${grad[i]} vs finite difference ${fd} (rel ${rel})`;
            throw new Error(`${where} in ${JSON.stringify(spec)}`);
          }
        }
      }),
      { numRuns: 300, seed: 20260, endOnFailure: true },
    );
    console.log(`gradient check: ${checked} parameters, worst relative error ${worst.toExponential(2)}`);
  });
});

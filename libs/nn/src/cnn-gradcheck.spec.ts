import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { paramLayout, type ParamLayout } from './layout';
import { forwardTrace, lossAndGrad64, type ForwardTrace } from './network';
import { randomCnnCase, randomData, randomParams } from '../../../test/support/random-network';
import { createRng } from './rng';
import { activationOf, type NetworkSpec } from './spec';

/**
 * Conv2D, pooling and flatten backprop against central finite differences in float64, every
 * parameter of 240 random CNN specs. Five-point stencil as in gradcheck.spec.ts.
 */
const H = 1e-4;
const KINKED = new Set(['relu', 'leaky_relu', 'elu']);

/**
 * Whether a max-pool window holds two different values closer than `gap`: a step of H could swap
 * its arg-max (a kink of the loss), so the stencil would not measure the derivative. Exact ties
 * (relu's zeros, which no step of H moves) are fine.
 */
function nearMaxPoolTie(spec: NetworkSpec, layout: ParamLayout, t: ForwardTrace, batch: number, gap: number): boolean {
  return layout.layers.some((l) => {
    if (l.kind !== 'maxPool2d') return false;
    const w = l.window!;
    const x = t.x[l.index];
    const inSize = w.inH * w.inW * w.inC;
    for (let b = 0; b < batch; b++) {
      for (let oy = 0; oy < w.outH; oy++) {
        for (let ox = 0; ox < w.outW; ox++) {
          for (let c = 0; c < w.inC; c++) {
            const v: number[] = [];
            for (let dy = 0; dy < w.kh; dy++) {
              for (let dx = 0; dx < w.kw; dx++) {
                const y = oy * w.sh + dy - w.padTop;
                const xx = ox * w.sw + dx - w.padLeft;
                if (y >= 0 && y < w.inH && xx >= 0 && xx < w.inW) v.push(x[b * inSize + (y * w.inW + xx) * w.inC + c]);
              }
            }
            v.sort((p, q) => q - p);
            if (v.length > 1 && v[0] !== v[1] && v[0] - v[1] < gap) return true;
          }
        }
      }
    }
    return false;
  });
}

describe('gradient check of CNNs: backprop vs central finite differences (float64)', () => {
  it('agrees to 1e-6 relative on every parameter of random CNN specs (conv, pools, flatten, skips)', () => {
    let worst = 0;
    let checked = 0;
    let specs = 0;
    fc.assert(
      fc.property(randomCnnCase, ({ spec, batch, seed }) => {
        const rng = createRng(seed);
        const layout = paramLayout(spec);
        const p = randomParams(layout.size, rng);
        const { x, y } = randomData(spec, batch, rng);
        const t = forwardTrace(spec, p, x, batch);
        const nearKink = (a: Float64Array) => a.some((v) => Math.abs(v) < 0.05);
        const kinky = spec.layers.some((l, k) => KINKED.has(activationOf(l)) && nearKink(t.a[k + 1]));
        fc.pre(!kinky && !nearMaxPoolTie(spec, layout, t, batch, 0.01));

        const { grad } = lossAndGrad64(spec, p, x, y, batch);
        const J = (i: number, d: number) => {
          const q = Float64Array.from(p);
          q[i] += d;
          return lossAndGrad64(spec, q, x, y, batch).loss;
        };
        for (let i = 0; i < layout.size; i++) {
          const fd = (8 * (J(i, H) - J(i, -H)) - (J(i, 2 * H) - J(i, -2 * H))) / (12 * H);
          const rel = Math.abs(grad[i] - fd) / Math.max(Math.abs(grad[i]), Math.abs(fd), 1e-3);
          worst = Math.max(worst, rel);
          checked++;
          if (!(rel < 1e-6)) {
            const where = `param ${i}: backprop ${grad[i]} vs finite difference ${fd} (rel ${rel})`;
            throw new Error(`${where} in ${JSON.stringify(spec)}`);
          }
        }
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

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { paramLayout, type ParamLayout } from '../layout';
import { forwardTrace, lossAndGrad64, type ForwardTrace } from '../network';
import { createRng } from '../rng';
import { activationOf } from '../spec';
import { randomCnnCase, randomData, randomParams } from '../../../../test/support/random-network';
import { gaussNewtonVector64, hessianVector64 } from './hessian-vector';

/**
 * H v through conv2d, pooling and flatten layers (spatial-r.ts) against the five-point central
 * difference of the float64 gradient along v, per element, on random CNN specs; G v is checked
 * to be a positive semi-definite form (v.Gv >= 0) there.
 */
const E = 1e-4;
const KINKED = new Set(['relu', 'leaky_relu', 'elu']);

/** Whether a max-pool window holds two different values closer than `gap` (a step could swap its arg-max). */
function nearMaxPoolTie(layout: ParamLayout, t: ForwardTrace, batch: number, gap: number): boolean {
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

describe('H v of CNNs by the R-operator vs central differences of the float64 gradient', () => {
  it('agrees per element to 1e-6 relative on 220 random CNN specs (conv, pools, flatten, skips)', () => {
    let worst = 0;
    let specs = 0;
    fc.assert(
      fc.property(randomCnnCase, ({ spec, batch, seed }) => {
        const rng = createRng(seed);
        const layout = paramLayout(spec);
        const p = randomParams(layout.size, rng);
        const { x, y } = randomData(spec, batch, rng);
        const v = Float64Array.from({ length: layout.size }, () => rng.normal());
        const t = forwardTrace(spec, p, x, batch);
        const kinky = spec.layers.some(
          (l, k) => KINKED.has(activationOf(l)) && t.a[k + 1].some((a) => Math.abs(a) < 0.05),
        );
        fc.pre(!kinky && !nearMaxPoolTie(layout, t, batch, 0.01));
        const hv = hessianVector64(spec, p, v, x, y, batch);
        const g = (e: number) =>
          lossAndGrad64(
            spec,
            p.map((q, i) => q + e * v[i]),
            x,
            y,
            batch,
          ).grad;
        const [p1, m1, p2, m2] = [g(E), g(-E), g(2 * E), g(-2 * E)];
        const fd = p1.map((_, i) => (8 * (p1[i] - m1[i]) - (p2[i] - m2[i])) / (12 * E));
        const scale = Math.max(...Array.from(fd, Math.abs)) * 1e-6;
        for (let i = 0; i < layout.size; i++) {
          const rel = Math.abs(hv[i] - fd[i]) / Math.max(Math.abs(fd[i]), scale, 1e-3);
          worst = Math.max(worst, rel);
          if (!(rel < 1e-6)) throw new Error(`param ${i}: Hv ${hv[i]} vs fd ${fd[i]} in ${JSON.stringify(spec)}`);
        }
        const gv = gaussNewtonVector64(spec, p, v, x, y, batch);
        expect(gv.reduce((s, gi, i) => s + gi * v[i], 0)).toBeGreaterThanOrEqual(-1e-9);
        specs++;
      }),
      { numRuns: 220, seed: 20_419, endOnFailure: true },
    );
    expect(specs).toBeGreaterThanOrEqual(200);
    console.log(`CNN Hv vs finite differences: ${specs} specs, worst relative error ${worst.toExponential(2)}`);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { paramLayout, type ParamLayout } from '../layout';
import { forwardTrace, type ForwardTrace } from '../network';
import { createRng } from '../rng';
import { activationOf } from '../spec';
import { gaussNewtonOracle, hessianVectorOracle } from '../../../../test/support/curvature-oracle';
import { randomCnnCase, randomData, randomParams } from '../../../../test/support/random-network';
import { gaussNewtonVector64, hessianVector64 } from './hessian-vector';

/**
 * H v and G v through conv2d, pooling and flatten layers (spatial-r.ts) against the float64
 * oracles of test/support/curvature-oracle.ts (differences of the gradient, forward differences
 * and backprop), per element, on random CNN specs.
 */
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

describe('curvature products of CNNs by the R-operator vs float64 oracles', () => {
  it('H v and G v agree per element to 1e-6 relative on 220 random CNN specs (conv, pools, flatten, skips)', () => {
    let worst = 0;
    let worstG = 0;
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
        const fd = hessianVectorOracle(spec, p, v, x, y, batch);
        const scale = Math.max(...Array.from(fd, Math.abs)) * 1e-6;
        for (let i = 0; i < layout.size; i++) {
          const rel = Math.abs(hv[i] - fd[i]) / Math.max(Math.abs(fd[i]), scale, 1e-3);
          worst = Math.max(worst, rel);
          if (!(rel < 1e-6)) throw new Error(`param ${i}: Hv ${hv[i]} vs fd ${fd[i]} in ${JSON.stringify(spec)}`);
        }
        const gv = gaussNewtonVector64(spec, p, v, x, y, batch);
        const gvTruth = gaussNewtonOracle(spec, p, v, x, y, batch);
        const gScale = Math.max(...Array.from(gvTruth, Math.abs)) * 1e-6;
        for (let i = 0; i < layout.size; i++) {
          const rel = Math.abs(gv[i] - gvTruth[i]) / Math.max(Math.abs(gvTruth[i]), gScale, 1e-3);
          worstG = Math.max(worstG, rel);
          if (!(rel < 1e-6)) throw new Error(`param ${i}: Gv ${gv[i]} vs ${gvTruth[i]} in ${JSON.stringify(spec)}`);
        }
        specs++;
      }),
      { numRuns: 220, seed: 20_419, endOnFailure: true },
    );
    expect(specs).toBeGreaterThanOrEqual(200);
    console.log(`CNN Hv, Gv vs oracles: ${specs} specs, worst ${worst.toExponential(2)}, ${worstG.toExponential(2)}`);
  });
});

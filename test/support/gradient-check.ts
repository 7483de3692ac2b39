/**
 * Shared pieces of the float64 property tests of libs/nn (gradient and curvature checks): a random
 * case's parameters, data and direction, the filters that drop draws too close to a kink of the
 * loss, and backprop against five-point differences of the loss. A test fixture.
 */
import {
  activationOf,
  createRng,
  flatMask,
  forwardTrace,
  lossAndGrad64,
  paramLayout,
  type ForwardTrace,
  type NetworkSpec,
  type ParamLayout,
} from '@nnq/nn';
import { expect } from 'vitest';
import { randomData, randomParams } from './random-network';

// relu and leaky_relu have a kink at 0, elu a jump in its second derivative (a stencil's error is then O(h))
export const KINKED = new Set(['relu', 'leaky_relu', 'elu']);

/**
 * Parameters, data and a direction v of a random case, drawn from `seed` in that order (v last, so
 * p, x and y do not depend on whether v is used), and the float64 forward trace at them.
 */
export function drawCase(spec: NetworkSpec, batch: number, seed: number) {
  const rng = createRng(seed);
  const layout = paramLayout(spec);
  const p = randomParams(layout.size, rng);
  const { x, y } = randomData(spec, batch, rng);
  const v = Float64Array.from({ length: layout.size }, () => rng.normal());
  const t = forwardTrace(spec, p, x, batch);
  return { layout, p, x, y, v, t };
}

/** Whether a KINKED layer has a pre-activation within 0.05 of its kink at 0. */
export function nearKink(spec: NetworkSpec, t: ForwardTrace): boolean {
  return spec.layers.some((l, k) => KINKED.has(activationOf(l)) && t.a[k + 1].some((a) => Math.abs(a) < 0.05));
}

/**
 * Whether a max-pool window holds two different values closer than `gap`: a step could swap its
 * arg-max (a kink of the loss), so differences would not measure the derivative. Exact ties
 * (relu's zeros, which no step moves) are fine.
 */
export function nearMaxPoolTie(layout: ParamLayout, t: ForwardTrace, batch: number, gap: number): boolean {
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

const H = 1e-4;

/**
 * Backprop's float64 gradient against central differences of the loss, every parameter:
 * dJ/dp ~ (8 (J(p+h) - J(p-h)) - (J(p+2h) - J(p-2h))) / 12h, error O(h^4). Throws on the first
 * parameter off by 1e-6 relative or more; a masked-out connection must get exactly no gradient.
 */
export function checkGradient(
  spec: NetworkSpec,
  p: Float64Array,
  x: Float64Array,
  y: Float64Array,
  batch: number,
): { worst: number; checked: number } {
  const { grad } = lossAndGrad64(spec, p, x, y, batch);
  const J = (i: number, d: number) => {
    const q = Float64Array.from(p);
    q[i] += d;
    return lossAndGrad64(spec, q, x, y, batch).loss;
  };
  const mask = flatMask(spec, paramLayout(spec));
  let worst = 0;
  let checked = 0;
  for (let i = 0; i < p.length; i++) {
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
  return { worst, checked };
}

/**
 * A curvature product against its oracle, element by element: relative error with a floor of 1e-6
 * of the oracle's largest magnitude (and 1e-3); a masked-out connection must be exactly 0 (it has
 * no curvature). Throws the message `fail(i)` on the first element off by 1e-6 or more.
 */
export function checkElements(
  ours: Float64Array,
  truth: Float64Array,
  mask: Float32Array | null,
  fail: (i: number) => string,
): { worst: number; checked: number } {
  const scale = Math.max(...Array.from(truth, Math.abs)) * 1e-6;
  let worst = 0;
  let checked = 0;
  for (let i = 0; i < truth.length; i++) {
    if (mask && mask[i] === 0) {
      expect(ours[i]).toBe(0);
      continue;
    }
    const rel = Math.abs(ours[i] - truth[i]) / Math.max(Math.abs(truth[i]), scale, 1e-3);
    worst = Math.max(worst, rel);
    checked++;
    if (!(rel < 1e-6)) throw new Error(fail(i));
  }
  return { worst, checked };
}

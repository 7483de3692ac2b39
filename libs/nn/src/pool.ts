import type { Window2d } from './shapes';

/**
 * Max and average pooling, forward and backward, NHWC, per channel.
 *
 * Only the cells of a window inside the input count (padded cells are ignored): max pooling takes
 * the largest of them, average pooling divides by how many there are (Keras/TF.js, and ONNX's
 * count_include_pad = 0). Max pooling passes delta to its arg-max: the FIRST largest cell in
 * row-major window order (dy, then dx), so ties always resolve the same way and the bytes of a
 * gradient never depend on anything else.
 */

/** The rows [y0, y1) and columns [x0, x1) of output cell (oy, ox)'s window inside the input. */
function span(w: Window2d, oy: number, ox: number): [number, number, number, number] {
  const top = oy * w.sh - w.padTop;
  const left = ox * w.sw - w.padLeft;
  return [Math.max(top, 0), Math.min(top + w.kh, w.inH), Math.max(left, 0), Math.min(left + w.kw, w.inW)];
}

/**
 * out = max over each window, per channel; argmax[cell] = the input index (within the batch) of
 * the first maximum, for the backward pass.
 */
export function maxPoolForward(
  x: Float64Array,
  batch: number,
  w: Window2d,
  out: Float64Array,
  argmax: Int32Array,
): void {
  const { inW, inC: C, outH, outW } = w;
  const inSize = w.inH * inW * C;
  let o = 0;
  for (let b = 0; b < batch; b++) {
    const base = b * inSize;
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const [y0, y1, x0, x1] = span(w, oy, ox);
        for (let c = 0; c < C; c++) {
          let best = base + (y0 * inW + x0) * C + c;
          let v = x[best];
          for (let y = y0; y < y1; y++) {
            for (let xx = x0; xx < x1; xx++) {
              const i = base + (y * inW + xx) * C + c;
              // strictly greater: a tie keeps the first maximum
              if (x[i] > v) {
                v = x[i];
                best = i;
              }
            }
          }
          out[o] = v;
          argmax[o++] = best;
        }
      }
    }
  }
}

/** dJ/dx += delta sent to each window's arg-max (the only input cell its output depends on). */
export function maxPoolBackward(delta: Float64Array, count: number, argmax: Int32Array, dX: Float64Array): void {
  for (let o = 0; o < count; o++) dX[argmax[o]] += delta[o];
}

/** out = mean over the valid cells of each window, per channel. */
export function avgPoolForward(x: Float64Array, batch: number, w: Window2d, out: Float64Array): void {
  const { inW, inC: C, outH, outW } = w;
  const inSize = w.inH * inW * C;
  let o = 0;
  for (let b = 0; b < batch; b++) {
    const base = b * inSize;
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const [y0, y1, x0, x1] = span(w, oy, ox);
        const n = (y1 - y0) * (x1 - x0);
        for (let c = 0; c < C; c++) {
          let s = 0;
          for (let y = y0; y < y1; y++) {
            for (let xx = x0; xx < x1; xx++) s += x[base + (y * inW + xx) * C + c];
          }
          out[o++] = s / n;
        }
      }
    }
  }
}

/** dJ/dx_i += delta / n for every valid cell i of the window (each counted 1/n in the mean). */
export function avgPoolBackward(delta: Float64Array, batch: number, w: Window2d, dX: Float64Array): void {
  const { inW, inC: C, outH, outW } = w;
  const inSize = w.inH * inW * C;
  let o = 0;
  for (let b = 0; b < batch; b++) {
    const base = b * inSize;
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const [y0, y1, x0, x1] = span(w, oy, ox);
        const n = (y1 - y0) * (x1 - x0);
        for (let c = 0; c < C; c++) {
          const d = delta[o++] / n;
          for (let y = y0; y < y1; y++) {
            for (let xx = x0; xx < x1; xx++) dX[base + (y * inW + xx) * C + c] += d;
          }
        }
      }
    }
  }
}

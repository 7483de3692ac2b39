import { matmulAdd, matmulAddTransA, matmulAddTransB } from './matmul';
import type { Window2d } from './shapes';

/**
 * Conv2D forward and backward, NHWC, by im2col into the dense layer's matrix products.
 *
 * A convolution is a dense layer with most connections removed and the rest sharing weights:
 * output cell (oy, ox, k) is connected only to the input cells of its window, and every window
 * uses the same kernel W[(dy * kw + dx) * cin + ci][k]. im2col copies each sample's windows into
 * the rows of a matrix cols [outH * outW, kh * kw * cin] (padded cells are 0), so that
 *   a(n) = cols W + b                      (the dense forward product, one row per output cell)
 *   dJ/dW_ik += sum over cells of cols_i delta_k   (a shared weight sums delta_k h_i over every
 *                                                   place it is used: every cell of every sample)
 *   dJ/dcols = delta W^T,  then col2im adds each window's row back onto the input cells it came
 *                          from (dJ/dh_i sums w_ik delta_k over every window that saw h_i).
 * One sample's cols at a time keeps the workspace small ([outH * outW, fanIn]).
 */

/** Rows (output cells) and columns (kh * kw * cin) of one sample's cols. */
export function colsShape(w: Window2d): { rows: number; fanIn: number } {
  return { rows: w.outH * w.outW, fanIn: w.kh * w.kw * w.inC };
}

/** cols[(oy * outW + ox) * fanIn + (dy * kw + dx) * cin + ci] = x[iy, ix, ci] of one sample, 0 in the padding. */
export function im2col(x: Float64Array, w: Window2d, cols: Float64Array): void {
  const { inH, inW, inC, outH, outW, kh, kw, sh, sw, padTop, padLeft } = w;
  const fanIn = kh * kw * inC;
  let o = 0;
  for (let oy = 0; oy < outH; oy++) {
    for (let ox = 0; ox < outW; ox++) {
      for (let dy = 0; dy < kh; dy++) {
        const iy = oy * sh + dy - padTop;
        for (let dx = 0; dx < kw; dx++) {
          const ix = ox * sw + dx - padLeft;
          const c = o + (dy * kw + dx) * inC;
          if (iy < 0 || iy >= inH || ix < 0 || ix >= inW) {
            cols.fill(0, c, c + inC);
          } else {
            const xi = (iy * inW + ix) * inC;
            for (let ci = 0; ci < inC; ci++) cols[c + ci] = x[xi + ci];
          }
        }
      }
      o += fanIn;
    }
  }
}

/** The transpose of im2col: dx[iy, ix, ci] += dcols[...] for every window cell inside the input. */
export function col2imAdd(dcols: Float64Array, w: Window2d, dx: Float64Array): void {
  const { inH, inW, inC, outH, outW, kh, kw, sh, sw, padTop, padLeft } = w;
  const fanIn = kh * kw * inC;
  let o = 0;
  for (let oy = 0; oy < outH; oy++) {
    for (let ox = 0; ox < outW; ox++) {
      for (let dy = 0; dy < kh; dy++) {
        const iy = oy * sh + dy - padTop;
        if (iy < 0 || iy >= inH) continue;
        for (let dx0 = 0; dx0 < kw; dx0++) {
          const ix = ox * sw + dx0 - padLeft;
          if (ix < 0 || ix >= inW) continue;
          const c = o + (dy * kw + dx0) * inC;
          const xi = (iy * inW + ix) * inC;
          for (let ci = 0; ci < inC; ci++) dx[xi + ci] += dcols[c + ci];
        }
      }
      o += fanIn;
    }
  }
}

/**
 * a(n) = conv(x, W) + b for `batch` samples: x [batch, inH * inW * inC], a [batch, outH * outW * filters].
 * cols is a workspace of at least outH * outW * fanIn values.
 */
export function convForward(
  x: Float64Array,
  batch: number,
  w: Window2d,
  kernel: Float64Array,
  bias: Float64Array | null,
  a: Float64Array,
  cols: Float64Array,
): void {
  const { rows, fanIn } = colsShape(w);
  const inSize = w.inH * w.inW * w.inC;
  const outSize = rows * w.outC;
  for (let b = 0; b < batch; b++) {
    const ab = a.subarray(b * outSize, (b + 1) * outSize);
    if (bias) for (let r = 0; r < rows; r++) ab.set(bias, r * w.outC);
    else ab.fill(0);
    im2col(x.subarray(b * inSize, (b + 1) * inSize), w, cols);
    // a = cols W (+ b): the dense product, one row per output cell
    matmulAdd(cols, kernel, ab, rows, fanIn, w.outC);
  }
}

/**
 * Backward of a conv layer given delta(n) = dJ/da(n): accumulates dJ/dW (gKernel), dJ/db (gBias)
 * and, when dX is given, dJ/dx(n) into dX. cols and dcols are workspaces like convForward's.
 */
export function convBackward(
  x: Float64Array,
  delta: Float64Array,
  batch: number,
  w: Window2d,
  kernel: Float64Array,
  gKernel: Float64Array,
  gBias: Float64Array | null,
  dX: Float64Array | null,
  cols: Float64Array,
  dcols: Float64Array,
): void {
  const { rows, fanIn } = colsShape(w);
  const inSize = w.inH * w.inW * w.inC;
  const outSize = rows * w.outC;
  for (let b = 0; b < batch; b++) {
    const db = delta.subarray(b * outSize, (b + 1) * outSize);
    im2col(x.subarray(b * inSize, (b + 1) * inSize), w, cols);
    // dJ/dw_ik += sum over the cells of this sample of h_i delta_k (the shared weight's every use)
    matmulAddTransA(cols, db, gKernel, rows, fanIn, w.outC);
    // dJ/db_k += sum over the cells of delta_k
    if (gBias) {
      for (let r = 0; r < rows; r++) {
        for (let k = 0; k < w.outC; k++) gBias[k] += db[r * w.outC + k];
      }
    }
    if (!dX) continue;
    // dJ/dcols = delta W^T (sum_k w_ik delta_k per window), then back onto the input cells
    dcols.fill(0, 0, rows * fanIn);
    matmulAddTransB(db, kernel, dcols, rows, fanIn, w.outC);
    col2imAdd(dcols, w, dX.subarray(b * inSize, (b + 1) * inSize));
  }
}

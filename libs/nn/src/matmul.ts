/**
 * The three matrix products of a dense layer, over row-major Float64Array matrices.
 *
 * Loop order is i-k-j (the innermost loop walks contiguous memory), and rows are taken four at a
 * time so every row of W (or of dW) is loaded from memory once per four samples instead of once
 * per sample. Each function accumulates (+=) into its output, so the caller zeroes or presets it.
 */

/**
 * out[r, k] += sum_i x[r, i] W[i, k]      x: [rows, n], W: [n, m], out: [rows, m]
 * (the forward product a = x W; all-zero input columns, common after relu, are skipped).
 */
export function matmulAdd(x: Float64Array, W: Float64Array, out: Float64Array, rows: number, n: number, m: number) {
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const x0 = r * n,
      x1 = x0 + n,
      x2 = x1 + n,
      x3 = x2 + n;
    const o0 = r * m,
      o1 = o0 + m,
      o2 = o1 + m,
      o3 = o2 + m;
    for (let i = 0; i < n; i++) {
      const a0 = x[x0 + i],
        a1 = x[x1 + i],
        a2 = x[x2 + i],
        a3 = x[x3 + i];
      if (a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0) continue;
      const wi = i * m;
      for (let k = 0; k < m; k++) {
        const w = W[wi + k];
        out[o0 + k] += a0 * w;
        out[o1 + k] += a1 * w;
        out[o2 + k] += a2 * w;
        out[o3 + k] += a3 * w;
      }
    }
  }
  for (; r < rows; r++) {
    const xo = r * n;
    const oo = r * m;
    for (let i = 0; i < n; i++) {
      const a = x[xo + i];
      if (a === 0) continue;
      const wi = i * m;
      for (let k = 0; k < m; k++) out[oo + k] += a * W[wi + k];
    }
  }
}

/**
 * out[r, i] += sum_k d[r, k] W[i, k]      d: [rows, m], W: [n, m], out: [rows, n]
 * (the backward product d W^T: sum_l w_il delta_l for every input i of the layer).
 */
export function matmulAddTransB(
  d: Float64Array,
  W: Float64Array,
  out: Float64Array,
  rows: number,
  n: number,
  m: number,
) {
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const d0 = r * m,
      d1 = d0 + m,
      d2 = d1 + m,
      d3 = d2 + m;
    const o0 = r * n,
      o1 = o0 + n,
      o2 = o1 + n,
      o3 = o2 + n;
    for (let i = 0; i < n; i++) {
      const wi = i * m;
      let s0 = 0,
        s1 = 0,
        s2 = 0,
        s3 = 0;
      for (let k = 0; k < m; k++) {
        const w = W[wi + k];
        s0 += d[d0 + k] * w;
        s1 += d[d1 + k] * w;
        s2 += d[d2 + k] * w;
        s3 += d[d3 + k] * w;
      }
      out[o0 + i] += s0;
      out[o1 + i] += s1;
      out[o2 + i] += s2;
      out[o3 + i] += s3;
    }
  }
  for (; r < rows; r++) {
    const dr = r * m;
    const or = r * n;
    for (let i = 0; i < n; i++) {
      const wi = i * m;
      let s = 0;
      for (let k = 0; k < m; k++) s += d[dr + k] * W[wi + k];
      out[or + i] += s;
    }
  }
}

/**
 * out[i, k] += sum_r x[r, i] d[r, k]      x: [rows, n], d: [rows, m], out: [n, m]
 * (the kernel gradient x^T delta: dJ/dw_ik = sum over samples of h_i delta_k).
 */
export function matmulAddTransA(
  x: Float64Array,
  d: Float64Array,
  out: Float64Array,
  rows: number,
  n: number,
  m: number,
) {
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const x0 = r * n,
      x1 = x0 + n,
      x2 = x1 + n,
      x3 = x2 + n;
    const d0 = r * m,
      d1 = d0 + m,
      d2 = d1 + m,
      d3 = d2 + m;
    for (let i = 0; i < n; i++) {
      const a0 = x[x0 + i],
        a1 = x[x1 + i],
        a2 = x[x2 + i],
        a3 = x[x3 + i];
      if (a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0) continue;
      const oi = i * m;
      for (let k = 0; k < m; k++) {
        out[oi + k] += a0 * d[d0 + k] + a1 * d[d1 + k] + a2 * d[d2 + k] + a3 * d[d3 + k];
      }
    }
  }
  for (; r < rows; r++) {
    const xr = r * n;
    const dr = r * m;
    for (let i = 0; i < n; i++) {
      const a = x[xr + i];
      if (a === 0) continue;
      const oi = i * m;
      for (let k = 0; k < m; k++) out[oi + k] += a * d[dr + k];
    }
  }
}

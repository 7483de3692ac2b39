import { ELU_ALPHA, LEAKY_RELU_ALPHA, type Activation } from './spec';

/**
 * Activation functions h = f(a), applied in place over a batch [rows, units] (row-major),
 * and their backward pass g <- f'(a) * g.
 *
 * Definitions (fixed: the ONNX engine builds exactly these):
 *   identity    f(x) = x
 *   relu        f(x) = max(x, 0)                         f'(0) = 0
 *   leaky_relu  f(x) = x > 0 ? x : 0.01 x                f'(0) = 0.01
 *   elu         f(x) = x > 0 ? x : exp(x) - 1            f'(x) = exp(x) for x <= 0
 *   sigmoid     f(x) = 1 / (1 + exp(-x))                 f' = f (1 - f)
 *   tanh        f(x) = tanh(x)                           f' = 1 - f^2
 *   softplus    f(x) = log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))    f' = sigmoid(x)
 *   gelu        f(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))  (tanh approximation)
 *   softmax     f(a)_k = exp(a_k - max a) / sum_j exp(a_j - max a)      (row-wise, output layer only)
 */

export type Vec = Float32Array | Float64Array;

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

/** Logistic sigmoid, stable for large |x|. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** softplus(x) = log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), never overflows. */
export function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

/** gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
export function gelu(x: number): number {
  return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + GELU_C * x * x * x)));
}

/** d gelu / dx = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2), t = tanh(u). */
export function geluGrad(x: number): number {
  const t = Math.tanh(SQRT_2_OVER_PI * (x + GELU_C * x * x * x));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * GELU_C * x * x);
}

/** Scalar f(x) for the element-wise activations (not softmax). */
export function activate(act: Exclude<Activation, 'softmax'>, x: number): number {
  switch (act) {
    case 'identity':
      return x;
    case 'relu':
      return x > 0 ? x : 0;
    case 'leaky_relu':
      return x > 0 ? x : LEAKY_RELU_ALPHA * x;
    case 'elu':
      return x > 0 ? x : ELU_ALPHA * Math.expm1(x);
    case 'sigmoid':
      return sigmoid(x);
    case 'tanh':
      return Math.tanh(x);
    case 'softplus':
      return softplus(x);
    case 'gelu':
      return gelu(x);
  }
}

/** Scalar f'(x) given x = a and y = f(a) (whichever is cheaper), element-wise activations only. */
export function activateGrad(act: Exclude<Activation, 'softmax'>, x: number, y: number): number {
  switch (act) {
    case 'identity':
      return 1;
    case 'relu':
      return x > 0 ? 1 : 0;
    case 'leaky_relu':
      return x > 0 ? 1 : LEAKY_RELU_ALPHA;
    case 'elu':
      return x > 0 ? 1 : ELU_ALPHA * Math.exp(x);
    case 'sigmoid':
      return y * (1 - y);
    case 'tanh':
      return 1 - y * y;
    case 'softplus':
      return sigmoid(x);
    case 'gelu':
      return geluGrad(x);
  }
}

/** h = f(a) over `rows` rows of `units` values. */
export function forwardActivation(act: Activation, a: Vec, h: Vec, rows: number, units: number): void {
  const n = rows * units;
  switch (act) {
    case 'identity':
      if (h !== a) h.set(a.subarray(0, n));
      return;
    case 'relu':
      for (let i = 0; i < n; i++) h[i] = a[i] > 0 ? a[i] : 0;
      return;
    case 'softmax':
      for (let r = 0; r < rows; r++) softmaxRow(a, h, r * units, units);
      return;
    default:
      for (let i = 0; i < n; i++) h[i] = activate(act, a[i]);
  }
}

/** softmax of one row, max-subtracted: p_k = exp(a_k - m) / sum_j exp(a_j - m). */
export function softmaxRow(a: Vec, p: Vec, o: number, units: number): void {
  let m = -Infinity;
  for (let k = 0; k < units; k++) if (a[o + k] > m) m = a[o + k];
  let s = 0;
  for (let k = 0; k < units; k++) {
    const e = Math.exp(a[o + k] - m);
    p[o + k] = e;
    s += e;
  }
  for (let k = 0; k < units; k++) p[o + k] /= s;
}

/**
 * Backward through f: g <- dJ/da given g = dJ/dh, a = pre-activation, h = f(a).
 *   element-wise: delta_k = f'(a_k) * g_k
 *   softmax (full Jacobian): delta_k = p_k (g_k - sum_j p_j g_j) = p_k sum_{j != k} p_j (g_k - g_j)
 * Softmax takes the second form: the first subtracts two numbers near g_k where p_k is near 1 and
 * keeps only the digits of 1 - p_k that p_k carries; in the second every term is small there.
 */
export function backwardActivation(act: Activation, a: Vec, h: Vec, g: Vec, rows: number, units: number): void {
  const n = rows * units;
  switch (act) {
    case 'identity':
      return;
    case 'relu':
      for (let i = 0; i < n; i++) if (!(a[i] > 0)) g[i] = 0;
      return;
    case 'softmax': {
      const row = new Float64Array(units); // the new row depends on the whole old one
      for (let r = 0; r < rows; r++) softmaxBackwardRow(h, g, r * units, units, row);
      return;
    }
    default:
      for (let i = 0; i < n; i++) g[i] *= activateGrad(act, a[i], h[i]);
  }
}

/** One row of the softmax backward, in place: g_k <- p_k sum_{j != k} p_j (g_k - g_j). O(units^2). */
function softmaxBackwardRow(p: Vec, g: Vec, o: number, units: number, d: Float64Array): void {
  for (let k = 0; k < units; k++) {
    let s = 0;
    for (let j = 0; j < units; j++) if (j !== k) s += p[o + j] * (g[o + k] - g[o + j]);
    d[k] = p[o + k] * s;
  }
  for (let k = 0; k < units; k++) g[o + k] = d[k];
}

/** 1 - p_k = sum_{j != k} p_j of one softmax row: no cancellation where p_k is near 1. */
export function softmaxComplement(p: Vec, o: number, units: number, k: number): number {
  let c = 0;
  for (let j = 0; j < units; j++) if (j !== k) c += p[o + j];
  return c;
}

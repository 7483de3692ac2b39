import { activateGrad, geluGrad, sigmoid, type Vec } from '../activations';
import { ELU_ALPHA, type Activation } from '../spec';

/**
 * The R-operator through an activation h = f(a) (Pearlmutter 1994): R{.} is the directional
 * derivative d/dr .(params + r v) at r = 0, so every quantity x of a pass has a partner Rx.
 *
 *   forward   R h_k = f'(a_k) R a_k                           (softmax: R p_k = p_k (R a_k - sum_j p_j R a_j))
 *   backward  delta_k = f'(a_k) g_k  gives
 *             R delta_k = f''(a_k) R a_k g_k + f'(a_k) R g_k
 *             softmax, delta_k = p_k (g_k - s), s = sum_j p_j g_j:
 *             R delta_k = R p_k (g_k - s) + p_k (R g_k - sum_j (R p_j g_j + p_j R g_j))
 */

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

/**
 * f''(x) given x = a and y = f(a), element-wise activations:
 *   identity, relu, leaky_relu  0 (relu's and leaky_relu's kink at 0 has measure zero)
 *   elu        x > 0 ? 0 : exp(x)
 *   sigmoid    f (1 - f) (1 - 2 f)
 *   tanh       -2 f (1 - f^2)
 *   softplus   sigmoid(x) (1 - sigmoid(x))
 *   gelu       (1 - t^2) (u' + x/2 (u'' - 2 t u'^2)),  u = sqrt(2/pi) (x + 0.044715 x^3), t = tanh(u)
 */
export function activateGrad2(act: Exclude<Activation, 'softmax'>, x: number, y: number): number {
  switch (act) {
    case 'identity':
    case 'relu':
    case 'leaky_relu':
      return 0;
    case 'elu':
      return x > 0 ? 0 : ELU_ALPHA * Math.exp(x);
    case 'sigmoid':
      return y * (1 - y) * (1 - 2 * y);
    case 'tanh':
      return -2 * y * (1 - y * y);
    case 'softplus': {
      const s = sigmoid(x);
      return s * (1 - s);
    }
    case 'gelu': {
      const t = Math.tanh(SQRT_2_OVER_PI * (x + GELU_C * x * x * x));
      const u1 = SQRT_2_OVER_PI * (1 + 3 * GELU_C * x * x);
      const u2 = SQRT_2_OVER_PI * 6 * GELU_C * x;
      return (1 - t * t) * (u1 + 0.5 * x * (u2 - 2 * t * u1 * u1));
    }
  }
}

/** R h = f'(a) R a over `rows` rows of `units` values (softmax row-wise). */
export function rForwardActivation(
  act: Activation,
  a: Vec,
  h: Vec,
  ra: Float64Array,
  rh: Float64Array,
  rows: number,
  units: number,
): void {
  if (act === 'softmax') {
    for (let r = 0; r < rows; r++) {
      const o = r * units;
      let s = 0;
      for (let k = 0; k < units; k++) s += h[o + k] * ra[o + k];
      // R p_k = p_k (R a_k - sum_j p_j R a_j)
      for (let k = 0; k < units; k++) rh[o + k] = h[o + k] * (ra[o + k] - s);
    }
    return;
  }
  for (let i = 0; i < rows * units; i++) rh[i] = activateGrad(act, a[i], h[i]) * ra[i];
}

/**
 * R delta for delta = f'(a) g (in the backward pass), written to `rd`; g = dJ/dh and rg = R g are
 * read before delta is formed from g, so the caller calls this before backwardActivation.
 */
export function rBackwardActivation(
  act: Activation,
  a: Vec,
  h: Vec,
  g: Float64Array,
  ra: Float64Array,
  rg: Float64Array,
  rd: Float64Array,
  rows: number,
  units: number,
): void {
  const n = rows * units;
  switch (act) {
    case 'identity':
      rd.set(rg.subarray(0, n));
      return;
    case 'relu':
      for (let i = 0; i < n; i++) rd[i] = a[i] > 0 ? rg[i] : 0;
      return;
    case 'softmax':
      for (let r = 0; r < rows; r++) rSoftmaxBackwardRow(h, g, ra, rg, rd, r * units, units);
      return;
    case 'gelu':
      for (let i = 0; i < n; i++) rd[i] = activateGrad2(act, a[i], h[i]) * ra[i] * g[i] + geluGrad(a[i]) * rg[i];
      return;
    default:
      for (let i = 0; i < n; i++) {
        // R delta_k = f''(a_k) R a_k g_k + f'(a_k) R g_k
        rd[i] = activateGrad2(act, a[i], h[i]) * ra[i] * g[i] + activateGrad(act, a[i], h[i]) * rg[i];
      }
  }
}

/** One softmax row of R delta (see the header): O(units). */
function rSoftmaxBackwardRow(
  p: Vec,
  g: Float64Array,
  ra: Float64Array,
  rg: Float64Array,
  rd: Float64Array,
  o: number,
  units: number,
): void {
  let pra = 0; // sum_j p_j R a_j
  let s = 0; // sum_j p_j g_j
  for (let j = 0; j < units; j++) {
    pra += p[o + j] * ra[o + j];
    s += p[o + j] * g[o + j];
  }
  let rs = 0; // R s = sum_j (R p_j g_j + p_j R g_j)
  for (let j = 0; j < units; j++) rs += p[o + j] * (ra[o + j] - pra) * g[o + j] + p[o + j] * rg[o + j];
  for (let k = 0; k < units; k++) {
    const rp = p[o + k] * (ra[o + k] - pra);
    rd[o + k] = rp * (g[o + k] - s) + p[o + k] * (rg[o + k] - rs);
  }
}

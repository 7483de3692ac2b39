import { backwardActivation, sigmoid, softmaxComplement, type Vec } from './activations';
import type { Activation, Loss } from './spec';

/**
 * Losses J, per sample, then summed over the batch (the returned loss is the batch sum):
 *   sum_of_squares  J = 1/2 sum_k (y_k - out_k)^2                         (the lecture's J)
 *   mse             J = 1/K sum_k (y_k - out_k)^2                         (K output units)
 *   softmax_cross_entropy          J = -sum_k y_k log softmax(a)_k       from the logits a = a(L)
 *   sigmoid_binary_cross_entropy   J = sum_k max(a_k, 0) - a_k y_k + log1p(exp(-|a_k|))
 * The two cross entropies fuse with their output activation: delta(L) = dJ/da(L) = p - y
 * (for softmax this assumes each target row sums to 1: one-hot or soft labels).
 *
 * "correct" counts: argmax(out) == argmax(y) for softmax_cross_entropy (first max wins);
 * (out >= 0.5) == (y >= 0.5) on every unit for sigmoid_binary_cross_entropy; 0 for regression.
 */

export interface LossResult {
  /** Summed over the batch. */
  loss: number;
  /** Number of correctly classified samples (0 for regression losses). */
  correct: number;
}

/**
 * J and delta(L) = dJ/da(L) for `rows` samples of `units` outputs.
 * a = logits a(L), out = h(L) = f(a(L)); delta receives dJ/da(L).
 */
export function lossAndDelta(
  loss: Loss,
  outAct: Activation,
  a: Vec,
  out: Vec,
  y: Vec,
  delta: Vec,
  rows: number,
  units: number,
): LossResult {
  const n = rows * units;
  let J = 0;
  switch (loss) {
    case 'sum_of_squares':
      residuals(outAct, a, out, y, delta, rows, units); // dJ/dout_k = out_k - y_k
      for (let i = 0; i < n; i++) J += 0.5 * delta[i] * delta[i]; // J = 1/2 sum_k (y_k - out_k)^2
      backwardActivation(outAct, a, out, delta, rows, units); // delta_k = f'(a_k) dJ/dout_k
      return { loss: J, correct: 0 };
    case 'mse': {
      const invK = 1 / units;
      residuals(outAct, a, out, y, delta, rows, units);
      for (let i = 0; i < n; i++) {
        J += invK * delta[i] * delta[i]; // J = 1/K sum_k (y_k - out_k)^2
        delta[i] *= 2 * invK; // dJ/dout_k = 2/K (out_k - y_k)
      }
      backwardActivation(outAct, a, out, delta, rows, units);
      return { loss: J, correct: 0 };
    }
    case 'softmax_cross_entropy': {
      let correct = 0;
      residuals(outAct, a, out, y, delta, rows, units); // delta(L) = p - y
      for (let r = 0; r < rows; r++) {
        const o = r * units;
        let m = -Infinity;
        for (let k = 0; k < units; k++) if (a[o + k] > m) m = a[o + k];
        let s = 0;
        for (let k = 0; k < units; k++) s += Math.exp(a[o + k] - m);
        const lse = m + Math.log(s); // log sum_j exp(a_j)
        for (let k = 0; k < units; k++) if (y[o + k] !== 0) J -= y[o + k] * (a[o + k] - lse); // J = -sum_k y_k log p_k
        if (argmax(out, o, units) === argmax(y, o, units)) correct++;
      }
      return { loss: J, correct };
    }
    case 'sigmoid_binary_cross_entropy': {
      let correct = 0;
      residuals(outAct, a, out, y, delta, rows, units); // delta(L) = p - y
      for (let r = 0; r < rows; r++) {
        const o = r * units;
        let allRight = true;
        for (let k = 0; k < units; k++) {
          const z = a[o + k];
          const t = y[o + k];
          J += Math.max(z, 0) - z * t + Math.log1p(Math.exp(-Math.abs(z))); // -[t log p + (1-t) log(1-p)]
          if (out[o + k] >= 0.5 !== t >= 0.5) allRight = false;
        }
        if (allRight) correct++;
      }
      return { loss: J, correct };
    }
  }
}

/**
 * e = out - y. Where the output activation is bounded by 1 it is h (1 - y) - y (1 - h), with 1 - h
 * summed from the other classes (softmax) or sigmoid(-a) (sigmoid): exact for 0/1 targets where h
 * is near 1, where out - y would keep only the digits of 1 - h that h carries.
 */
function residuals(outAct: Activation, a: Vec, out: Vec, y: Vec, e: Vec, rows: number, units: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * units;
    for (let k = 0; k < units; k++) {
      const i = o + k;
      if (outAct === 'softmax') e[i] = out[i] * (1 - y[i]) - y[i] * softmaxComplement(out, o, units, k);
      else if (outAct === 'sigmoid') e[i] = out[i] * (1 - y[i]) - y[i] * sigmoid(-a[i]);
      else e[i] = out[i] - y[i];
    }
  }
}

/** Index of the first maximum of v[o .. o + n). */
export function argmax(v: Vec, o: number, n: number): number {
  let best = 0;
  for (let k = 1; k < n; k++) if (v[o + k] > v[o + best]) best = k;
  return best;
}

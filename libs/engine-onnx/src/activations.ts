import { ELU_ALPHA, LEAKY_RELU_ALPHA, type Activation } from '@nnq/nn';
import type { GraphBuilder } from './graph';

/**
 * Activations as ONNX ops: h = f(a), and a closure that emits the backward step
 * delta = dJ/da = f'(a) * dJ/dh, reusing what the forward pass already computed.
 * Definitions follow libs/nn/src/activations.ts exactly (f'(0) of relu is 0, of leaky_relu 0.01).
 */
export interface EmittedActivation {
  /** h = f(a). */
  readonly h: string;
  /** Emit delta = f'(a) * dh; returns its name. */
  backward(dh: string): string;
  /** 1 - h without cancellation where h is near 1 (the activations bounded by 1: softmax, sigmoid). */
  complement?(): string;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

/** f over a [batch, units] value a. */
export function emitActivation(g: GraphBuilder, act: Activation, a: string, units: number): EmittedActivation {
  switch (act) {
    case 'identity':
      return { h: a, backward: (dh) => dh };
    case 'relu': {
      const h = g.op('Relu', [a]);
      // delta_k = dh_k where a_k > 0, else 0 (f'(0) = 0). Tested on h (h > 0 iff a > 0), so that a
      // has one consumer and onnxruntime can fuse Gemm + Relu.
      return { h, backward: (dh) => g.op('Where', [g.op('Greater', [h, g.scalar(0)]), dh, g.scalar(0)]) };
    }
    case 'leaky_relu': {
      const h = g.op('LeakyRelu', [a], { alpha: { f: LEAKY_RELU_ALPHA } });
      return {
        h,
        // delta_k = dh_k where a_k > 0, else alpha dh_k (f'(0) = alpha); h > 0 iff a > 0
        backward: (dh) =>
          g.op('Where', [g.op('Greater', [h, g.scalar(0)]), dh, g.op('Mul', [dh, g.scalar(LEAKY_RELU_ALPHA)])]),
      };
    }
    case 'elu': {
      // h = a for a > 0, alpha expm1(a) below. onnxruntime's Elu is exp(a) - 1, which loses the
      // digits of small |a| (3e-5 relative at a = -0.002), so expm1 is built from u = exp(min(a, 0)):
      // (u - 1) a / log(u) where u > 1/2 (Kahan), u - 1 below.
      const m = g.op('Min', [a, g.scalar(0)]);
      const u = g.op('Exp', [m]);
      const kahan = g.op('Div', [g.op('Mul', [g.op('Sub', [u, g.scalar(1)]), m]), g.op('Log', [u])]);
      const near = g.op('Where', [g.op('Equal', [u, g.scalar(1)]), m, kahan]);
      const em1 = g.op('Where', [g.op('Greater', [u, g.scalar(0.5)]), near, g.op('Sub', [u, g.scalar(1)])]);
      const h = g.op('Where', [g.op('Greater', [a, g.scalar(0)]), a, g.op('Mul', [em1, g.scalar(ELU_ALPHA)])]);
      return {
        h,
        // f'(a) = 1 for a > 0, alpha exp(a) for a <= 0
        backward: (dh) => {
          const slope = g.op('Where', [
            g.op('Greater', [a, g.scalar(0)]),
            g.scalar(1),
            g.op('Mul', [u, g.scalar(ELU_ALPHA)]),
          ]);
          return g.op('Mul', [dh, slope]);
        },
      };
    }
    case 'sigmoid': {
      const sg = emitSigmoid(g, a);
      // f' = h (1 - h) = sigmoid(a) sigmoid(-a), from exp(-|a|): no cancellation anywhere
      return { h: sg.s, backward: (dh) => g.op('Mul', [dh, sg.slope()]), complement: sg.complement };
    }
    case 'tanh': {
      const h = g.op('Tanh', [a]);
      // f' = 1 - h^2 = 4 sigmoid(2a) sigmoid(-2a): no cancellation where |h| is near 1
      return {
        h,
        backward: (dh) => {
          const sg = emitSigmoid(g, g.op('Mul', [a, g.scalar(2)]));
          return g.op('Mul', [dh, g.op('Mul', [sg.slope(), g.scalar(4)])]);
        },
      };
    }
    case 'softplus': {
      // onnxruntime's Softplus is the stable max(x,0) + log1p(exp(-|x|)); f' = sigmoid(a)
      const h = g.op('Softplus', [a]);
      return { h, backward: (dh) => g.op('Mul', [dh, emitSigmoid(g, a).s]) };
    }
    case 'gelu': {
      // h = 0.5 a (1 + tanh(u)) = a sigmoid(2u), u = sqrt(2/pi) (a + 0.044715 a^3)  (opset 17 has no Gelu)
      const a2 = g.op('Mul', [a, a]);
      const inner = g.op('Mul', [a, g.op('Add', [g.scalar(1), g.op('Mul', [a2, g.scalar(GELU_C)])])]);
      const sg = emitSigmoid(g, g.op('Mul', [inner, g.scalar(2 * SQRT_2_OVER_PI)]));
      const h = g.op('Mul', [a, sg.s]);
      return {
        h,
        backward: (dh) => {
          // f' = 0.5 (1 + t) + 0.5 a (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 a^2), t = tanh(u)
          //    = s + 2 a s (1 - s) sqrt(2/pi) (1 + 3 * 0.044715 a^2),  s = sigmoid(2u)
          const poly = g.op('Add', [g.scalar(1), g.op('Mul', [a2, g.scalar(3 * GELU_C)])]);
          const term2 = g.op('Mul', [g.op('Mul', [a, sg.slope()]), g.op('Mul', [poly, g.scalar(2 * SQRT_2_OVER_PI)])]);
          return g.op('Mul', [dh, g.op('Add', [sg.s, term2])]);
        },
      };
    }
    case 'softmax': {
      const sm = emitSoftmax(g, a, units);
      return { h: sm.p, backward: sm.backward, complement: sm.complement };
    }
  }
}

/** softmax(a) over the last axis, 1 - p without cancellation, and the backward through it. */
export interface EmittedSoftmax {
  readonly p: string;
  /** 1 - p_k = sum_{j != k} p_j, accurate where p_k is near 1. */
  complement(): string;
  /** delta = dJ/da given dh = dJ/dp. */
  backward(dh: string): string;
}

/**
 * Softmax and its full-Jacobian backward, written so that a class with p_k near 1 loses no digits.
 *
 * The textbook form delta_k = p_k (dh_k - sum_j p_j dh_j) subtracts two numbers near dh_k where
 * p_k is near 1 and keeps only what float32 had of 1 - p_k (2.2e-3 relative error at p_k = 0.99992).
 * Here 1 - p_k is summed from the other classes, with the [K, K] matrix ones - I:
 *   c_k = sum_{j != k} p_j                                   c = p (1 - I)
 *   delta_k = p_k (dh_k c_k - sum_{j != k} p_j dh_j)         = p_k sum_j p_j (dh_k - dh_j)
 * Both terms of the difference are small where p_k is near 1, so it is exact to a few ulps of them.
 * Cost: two [batch, K] x [K, K] MatMuls; one formula for every row (no data-dependent branch).
 */
export function emitSoftmax(g: GraphBuilder, a: string, K: number): EmittedSoftmax {
  const p = g.op('Softmax', [a], { axis: -1 });
  let othersMatrix: string | null = null;
  // (v (1 - I))_k = sum_{j != k} v_j
  const others = (v: string) => g.op('MatMul', [v, (othersMatrix ??= onesMinusEye(g, K))]);
  let complement: string | null = null;
  const comp = () => (complement ??= others(p));
  return {
    p,
    complement: comp,
    backward: (dh) => g.op('Mul', [p, g.op('Sub', [g.op('Mul', [dh, comp()]), others(g.op('Mul', [p, dh]))])]),
  };
}

/** sigmoid(a) and, emitted on demand, sigmoid(-a) = 1 - sigmoid(a) and sigmoid(a) sigmoid(-a). */
export interface EmittedSigmoid {
  readonly s: string;
  complement(): string;
  slope(): string;
}

/**
 * The logistic function from t = exp(-|a|), as libs/nn computes it: 1 / (1 + t) for a >= 0,
 * t / (1 + t) below. Relative accuracy of a few ulps everywhere, where onnxruntime's Sigmoid
 * (MLAS) is accurate only in absolute terms (a factor 4 off at a = -18).
 */
export function emitSigmoid(g: GraphBuilder, a: string): EmittedSigmoid {
  const t = g.op('Exp', [g.op('Neg', [g.op('Abs', [a])])]);
  const r = g.op('Reciprocal', [g.op('Add', [g.scalar(1), t])]); // 1 / (1 + t)
  const tr = g.op('Mul', [t, r]); // t / (1 + t)
  const pos = g.op('GreaterOrEqual', [a, g.scalar(0)]);
  let complement: string | null = null;
  let slope: string | null = null;
  return {
    s: g.op('Where', [pos, r, tr]),
    complement: () => (complement ??= g.op('Where', [pos, tr, r])),
    slope: () => (slope ??= g.op('Mul', [tr, r])), // t / (1 + t)^2
  };
}

/** A [K, K] initializer of ones with a zero diagonal: v (1 - I) sums every other class. */
function onesMinusEye(g: GraphBuilder, K: number): string {
  const m = new Float32Array(K * K).fill(1);
  for (let k = 0; k < K; k++) m[k * K + k] = 0;
  return g.initializer(`ones_minus_eye_${K}`, m, [K, K]);
}

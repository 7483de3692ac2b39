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
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

export function emitActivation(g: GraphBuilder, act: Activation, a: string): EmittedActivation {
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
      return { h: sg.s, backward: (dh) => g.op('Mul', [dh, sg.slope()]) };
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
      const h = g.op('Softmax', [a], { axis: -1 });
      return {
        h,
        // full Jacobian: delta_k = p_k (dh_k - sum_j p_j dh_j)
        backward: (dh) => {
          const pg = g.op('ReduceSum', [g.op('Mul', [h, dh]), g.int64s([1])], { keepdims: 1 });
          return g.op('Mul', [h, g.op('Sub', [dh, pg])]);
        },
      };
    }
  }
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

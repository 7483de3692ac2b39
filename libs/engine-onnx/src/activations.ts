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
      const h = g.op('Elu', [a], { alpha: { f: ELU_ALPHA } });
      return {
        h,
        // f'(a) = 1 for a > 0, alpha exp(a) for a <= 0 (the exp branch may overflow where it is not selected)
        backward: (dh) => {
          const slope = g.op('Mul', [g.op('Exp', [a]), g.scalar(ELU_ALPHA)]);
          return g.op('Mul', [dh, g.op('Where', [g.op('Greater', [a, g.scalar(0)]), g.scalar(1), slope])]);
        },
      };
    }
    case 'sigmoid': {
      const h = g.op('Sigmoid', [a]);
      // f' = h (1 - h), with 1 - h = sigmoid(-a): no cancellation where h is near 1
      return { h, backward: (dh) => g.op('Mul', [dh, g.op('Mul', [h, g.op('Sigmoid', [g.op('Neg', [a])])])]) };
    }
    case 'tanh': {
      const h = g.op('Tanh', [a]);
      // f' = 1 - h^2 = 4 sigmoid(2a) sigmoid(-2a): no cancellation where |h| is near 1
      return { h, backward: (dh) => g.op('Mul', [dh, sech2(g, a)]) };
    }
    case 'softplus': {
      // onnxruntime's Softplus is the stable max(x,0) + log1p(exp(-|x|)); f' = sigmoid(a)
      const h = g.op('Softplus', [a]);
      return { h, backward: (dh) => g.op('Mul', [dh, g.op('Sigmoid', [a])]) };
    }
    case 'gelu': {
      // h = 0.5 a (1 + tanh(u)) = a sigmoid(2u), u = sqrt(2/pi) (a + 0.044715 a^3)  (opset 17 has no Gelu)
      const a2 = g.op('Mul', [a, a]);
      const inner = g.op('Mul', [a, g.op('Add', [g.scalar(1), g.op('Mul', [a2, g.scalar(GELU_C)])])]);
      const twoU = g.op('Mul', [inner, g.scalar(2 * SQRT_2_OVER_PI)]);
      const s = g.op('Sigmoid', [twoU]); // 0.5 (1 + tanh u)
      const h = g.op('Mul', [a, s]);
      return {
        h,
        backward: (dh) => {
          // f' = 0.5 (1 + t) + 0.5 a (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 a^2), t = tanh(u)
          //    = s + 2 a s (1 - s) sqrt(2/pi) (1 + 3 * 0.044715 a^2),  1 - s = sigmoid(-2u)
          const ss = g.op('Mul', [s, g.op('Sigmoid', [g.op('Neg', [twoU])])]);
          const poly = g.op('Add', [g.scalar(1), g.op('Mul', [a2, g.scalar(3 * GELU_C)])]);
          const term2 = g.op('Mul', [g.op('Mul', [a, ss]), g.op('Mul', [poly, g.scalar(2 * SQRT_2_OVER_PI)])]);
          return g.op('Mul', [dh, g.op('Add', [s, term2])]);
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

/** 1 - tanh(a)^2 = 4 sigmoid(2a) sigmoid(-2a), accurate where tanh(a) is near +-1. */
function sech2(g: GraphBuilder, a: string): string {
  const twoA = g.op('Mul', [a, g.scalar(2)]);
  const s = g.op('Mul', [g.op('Sigmoid', [twoA]), g.op('Sigmoid', [g.op('Neg', [twoA])])]);
  return g.op('Mul', [s, g.scalar(4)]);
}

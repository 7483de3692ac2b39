import type { Activation } from '@nnq/nn';
import { emitSigmoid, type EmittedActivation } from './activations';
import type { GraphBuilder } from './graph';

/**
 * The R-operator through an activation as ONNX ops (libs/nn/src/second-order/activation-r.ts):
 * R h = f'(a) R a is the activation's own backward step applied to R a; the backward's R-pass
 * needs f''(a) as well, written here. Element-wise, so it acts on flat and NCHW values alike.
 */

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

/**
 * R delta = f''(a) R a g + f'(a) R g for delta = f'(a) g. Softmax (delta_k = p_k (g_k - s),
 * s = sum_j p_j g_j): R delta_k = R p_k (g_k - s) - p_k sum_j R p_j g_j + [p_k (R g_k - sum_j p_j R g_j)].
 */
export function rBackward(
  g: GraphBuilder,
  act: Activation,
  em: EmittedActivation,
  a: string,
  h: string,
  gv: string,
  ra: string,
  rg: string,
): string {
  const first = em.backward(rg); // f'(a) R g (softmax: the bracket)
  if (act === 'softmax') {
    const rp = em.backward(ra);
    const s = g.op('ReduceSum', [g.op('Mul', [h, gv]), g.int64s([1])], { keepdims: 1 });
    const rpg = g.op('ReduceSum', [g.op('Mul', [rp, gv]), g.int64s([1])], { keepdims: 1 });
    const second = g.op('Sub', [g.op('Mul', [rp, g.op('Sub', [gv, s])]), g.op('Mul', [h, rpg])]);
    return g.op('Add', [first, second]);
  }
  const f2 = secondDerivative(g, act, a, h);
  return f2 ? g.op('Add', [first, g.op('Mul', [f2, g.op('Mul', [ra, gv])])]) : first;
}

/** f''(a) of an element-wise activation, or null where it is 0 (identity, relu, leaky_relu). */
function secondDerivative(g: GraphBuilder, act: Activation, a: string, h: string): string | null {
  switch (act) {
    case 'identity':
    case 'relu':
    case 'leaky_relu':
    case 'softmax':
      return null;
    case 'elu': // a > 0 ? 0 : exp(a)
      return g.op('Where', [
        g.op('Greater', [a, g.scalar(0)]),
        g.scalar(0),
        g.op('Exp', [g.op('Min', [a, g.scalar(0)])]),
      ]);
    case 'sigmoid': {
      // s (1 - s) (1 - 2 s) = slope (sigmoid(-a) - sigmoid(a))
      const sg = emitSigmoid(g, a);
      return g.op('Mul', [sg.slope(), g.op('Sub', [sg.complement(), sg.s])]);
    }
    case 'tanh': {
      // -2 t (1 - t^2), 1 - t^2 = 4 sigmoid(2a) sigmoid(-2a)
      const sg = emitSigmoid(g, g.op('Mul', [a, g.scalar(2)]));
      return g.op('Mul', [h, g.op('Mul', [sg.slope(), g.scalar(-8)])]);
    }
    case 'softplus': // sigmoid(a) sigmoid(-a)
      return emitSigmoid(g, a).slope();
    case 'gelu': {
      // (1 - t^2) (u' + a/2 (u'' - 2 t u'^2)), u = sqrt(2/pi) (a + c a^3), t = tanh(u) = 2 s - 1, s = sigmoid(2u)
      const a2 = g.op('Mul', [a, a]);
      const u = g.op('Mul', [
        g.op('Mul', [a, g.op('Add', [g.scalar(1), g.op('Mul', [a2, g.scalar(GELU_C)])])]),
        g.scalar(SQRT_2_OVER_PI),
      ]);
      const sg = emitSigmoid(g, g.op('Mul', [u, g.scalar(2)]));
      const t = g.op('Sub', [sg.s, sg.complement()]);
      const oneMinusT2 = g.op('Mul', [sg.slope(), g.scalar(4)]);
      const u1 = g.op('Mul', [
        g.op('Add', [g.scalar(1), g.op('Mul', [a2, g.scalar(3 * GELU_C)])]),
        g.scalar(SQRT_2_OVER_PI),
      ]);
      const u2 = g.op('Mul', [a, g.scalar(6 * GELU_C * SQRT_2_OVER_PI)]);
      const inner = g.op('Sub', [u2, g.op('Mul', [g.op('Mul', [t, g.op('Mul', [u1, u1])]), g.scalar(2)])]);
      return g.op('Mul', [oneMinusT2, g.op('Add', [u1, g.op('Mul', [g.op('Mul', [a, g.scalar(0.5)]), inner])])]);
    }
  }
}

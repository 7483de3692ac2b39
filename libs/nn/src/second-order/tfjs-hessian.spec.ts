import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { flatMask } from '../layout';
import { forwardTrace } from '../network';
import type { Activation, DenseLayer, NetworkSpec } from '../spec';
import { nearKink } from '../../../../test/support/gradient-check';
import { randomCase } from '../../../../test/support/random-network';
import { denseMasks, denseTensors, drawCase32 } from '../../../../test/support/tfjs-nets';
import { hessianVector, hessianVector64 } from './hessian-vector';

/**
 * H v against TensorFlow.js (float32, cpu backend): tf.grads of (tf.grads of J) . v, per tensor,
 * for our float32 and float64 paths.
 *
 * TF.js differentiates a gradient again only through ops whose gradient is built from their
 * inputs: sigmoid, tanh, exp and softmax take theirs from their saved output, which the outer
 * tape sees as a constant (it throws, or silently drops terms). So every activation here is
 * built from one exp whose gradient is exp of its input again (tf.customGrad), and from
 * mul/add/div/log1p; softmax and log-sum-exp subtract a row maximum taken as a constant (both
 * are invariant to it), and [a > 0] is tf.step (gradient 0).
 */
const exp: (a: tf.Tensor) => tf.Tensor = tf.customGrad(((a: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a]);
  return { value: tf.exp(a), gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, exp(saved[0])) };
}) as Parameters<typeof tf.customGrad>[0]) as (a: tf.Tensor) => tf.Tensor;

/** |a| = a (2 [a > 0] - 1). */
function absolute(a: tf.Tensor2D): tf.Tensor2D {
  return tf.mul(a, tf.sub(tf.mul(2, tf.step(a)), 1));
}

function sigmoid(a: tf.Tensor): tf.Tensor2D {
  return tf.div(1, tf.add(1, exp(tf.neg(a))));
}

/** tanh(u) = 2 sigmoid(2u) - 1. */
function tanh(u: tf.Tensor): tf.Tensor2D {
  return tf.sub(tf.mul(2, sigmoid(tf.mul(2, u))), 1);
}

/** The row maxima of a as a constant [rows, 1] tensor. */
function rowMax(a: tf.Tensor2D): tf.Tensor2D {
  const [rows, units] = a.shape;
  const v = a.dataSync();
  return tf.tensor2d(
    Array.from({ length: rows }, (_, r) => Math.max(...Array.from(v.subarray(r * units, (r + 1) * units)))),
    [rows, 1],
  );
}

/** log sum_j exp(a_j) per row, [rows, 1]. */
function logSumExp(a: tf.Tensor2D): tf.Tensor2D {
  const m = rowMax(a);
  return tf.add(m, tf.log(tf.sum(exp(tf.sub(a, m)), 1, true)));
}

function activation(act: Activation, a: tf.Tensor2D): tf.Tensor2D {
  const pos = tf.step(a);
  switch (act) {
    case 'identity':
      return a;
    case 'relu': // a [a > 0]
      return tf.mul(a, pos);
    case 'leaky_relu': // a ([a > 0] + 0.01 [a <= 0])
      return tf.mul(a, tf.add(pos, tf.mul(0.01, tf.sub(1, pos))));
    case 'elu': // a > 0 ? a : exp(a) - 1, exp of a [a <= 0] so the unused branch cannot overflow
      return tf.add(tf.mul(a, pos), tf.mul(tf.sub(exp(tf.mul(a, tf.sub(1, pos))), 1), tf.sub(1, pos)));
    case 'sigmoid':
      return sigmoid(a);
    case 'tanh':
      return tanh(a);
    case 'softplus': // max(a, 0) + log1p(exp(-|a|))
      return tf.add(tf.mul(a, pos), tf.log1p(exp(tf.neg(absolute(a)))));
    case 'gelu':
      return tf.mul(
        0.5,
        tf.mul(
          a,
          tf.add(1, tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(a, tf.mul(0.044715, tf.mul(a, tf.square(a))))))),
        ),
      );
    case 'softmax':
      return exp(tf.sub(a, logSumExp(a))) as tf.Tensor2D;
  }
}

/** J(params) as a tf graph: per-layer [kernel, bias?] tensors in the flat layout's order. */
function tfLoss(spec: NetworkSpec, x: tf.Tensor2D, y: tf.Tensor2D, masks: (tf.Tensor2D | null)[]) {
  return (vars: tf.Tensor[]): tf.Scalar => {
    const h: tf.Tensor2D[] = [x];
    let a = x;
    let v = 0;
    (spec.layers as DenseLayer[]).forEach((layer, k) => {
      const skip = spec.skips.find((s) => s.to === k + 1);
      let xin = h[k];
      if (skip) xin = skip.mode === 'concat' ? tf.concat([h[k], h[skip.from]], 1) : tf.add(h[k], h[skip.from]);
      let W = vars[v++] as tf.Tensor2D;
      if (masks[k]) W = tf.mul(W, masks[k]!);
      a = tf.matMul(xin, W);
      if (layer.useBias) a = tf.add(a, vars[v++]);
      h.push(activation(layer.activation, a));
    });
    const out = h[h.length - 1];
    switch (spec.loss) {
      case 'sum_of_squares':
        return tf.mul(0.5, tf.sum(tf.square(tf.sub(y, out))));
      case 'mse':
        return tf.div(tf.sum(tf.square(tf.sub(y, out))), out.shape[1]);
      case 'softmax_cross_entropy': // -sum y (a - logsumexp a)
        return tf.neg(tf.sum(tf.mul(y, tf.sub(a, logSumExp(a))))) as tf.Scalar;
      case 'sigmoid_binary_cross_entropy':
        return tf.sum(
          tf.add(tf.sub(tf.mul(a, tf.step(a)), tf.mul(a, y)), tf.log1p(exp(tf.neg(absolute(a))))),
        ) as tf.Scalar;
    }
  };
}

describe('H v vs TensorFlow.js tf.grads of (tf.grads J) . v (float32)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('agrees per tensor to 5e-5 of its largest element (float32 and float64 paths) on 250 random specs', () => {
    let worst32 = 0;
    let worst64 = 0;
    fc.assert(
      fc.property(randomCase, ({ spec, batch, seed }) => {
        const { rng, layout, p, data, x, y } = drawCase32(spec, batch, seed);
        const v = Float32Array.from({ length: layout.size }, () => rng.normal());
        // keep the pre-activations of kinked layers away from their kink
        fc.pre(!nearKink(spec, forwardTrace(spec, Float64Array.from(p), Float64Array.from(x), batch)));
        const ours32 = hessianVector(spec, p, v, x, y, batch);
        const ours64 = hessianVector64(
          spec,
          Float64Array.from(p),
          Float64Array.from(v),
          data.x.map(Math.fround),
          data.y.map(Math.fround),
          batch,
        );

        const flatM = flatMask(spec, layout);
        const theirs = tf.tidy(() => {
          const vars = denseTensors(layout, p);
          const dirs = denseTensors(layout, v);
          const masks = denseMasks(spec, layout, flatM);
          const J = tfLoss(
            spec,
            tf.tensor2d(x, [batch, spec.inputSize]),
            tf.tensor2d(y, [batch, y.length / batch]),
            masks,
          );
          // H v = grad of (grad J . v)
          const gDotV = (...ps: tf.Tensor[]): tf.Scalar => {
            const gs = tf.grads((...qs: tf.Tensor[]) => J(qs))(ps);
            return gs.reduce(
              (acc: tf.Scalar, g, i) => tf.add(acc, tf.sum(tf.mul(g, dirs[i]))) as tf.Scalar,
              tf.scalar(0),
            );
          };
          return tf
            .grads(gDotV)(vars)
            .map((t) => t.dataSync() as Float32Array);
        });

        let o = 0;
        for (const t of theirs) {
          const scale = Math.max(...Array.from(t, Math.abs), 1e-2);
          for (let i = 0; i < t.length; i++, o++) {
            const m = flatM ? flatM[o] : 1;
            const truth = m === 0 ? 0 : t[i];
            const r32 = Math.abs(ours32[o] - truth) / scale;
            const r64 = Math.abs(ours64[o] - truth) / scale;
            worst32 = Math.max(worst32, r32);
            worst64 = Math.max(worst64, r64);
            if (!(r32 < 5e-5 && r64 < 5e-5)) {
              throw new Error(`param ${o}: ours ${ours32[o]} / ${ours64[o]} vs tf ${truth} in ${JSON.stringify(spec)}`);
            }
          }
        }
        expect(o).toBe(layout.size);
      }),
      { numRuns: 250, seed: 20263, endOnFailure: true },
    );
    console.log(
      `Hv vs tf.grads: worst error per tensor ${worst32.toExponential(2)} (f32), ${worst64.toExponential(2)} (f64)`,
    );
  });
});

import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { flatMask } from './layout';
import { lossAndGrad, lossAndGrad64 } from './network';
import { randomCase } from '../../../test/support/random-network';
import { denseMasks, denseTensors, drawCase32, tfActivation } from '../../../test/support/tfjs-nets';
import { isDense, type NetworkSpec } from './spec';

/**
 * The same network built from TensorFlow.js ops (float32, cpu backend), differentiated by tf.grads,
 * against our float32 lossAndGrad: micrograd's test against PyTorch, in TypeScript.
 */

/** J(params) as a tf graph: per-layer [kernel, bias?] tensors in the flat layout's order. */
function tfLoss(spec: NetworkSpec, x: tf.Tensor2D, y: tf.Tensor2D, masks: (tf.Tensor2D | null)[]) {
  return (...vars: tf.Tensor[]): tf.Tensor => {
    const h: tf.Tensor2D[] = [x];
    let a = x;
    let v = 0;
    spec.layers.forEach((layer, k) => {
      if (!isDense(layer)) throw new Error('dense layers only');
      const n = k + 1;
      const skip = spec.skips.find((s) => s.to === n);
      let xin = h[n - 1];
      if (skip) xin = skip.mode === 'concat' ? tf.concat([h[n - 1], h[skip.from]], 1) : tf.add(h[n - 1], h[skip.from]);
      let W = vars[v++] as tf.Tensor2D;
      if (masks[k]) W = tf.mul(W, masks[k]!); // effective kernel W * mask
      a = tf.matMul(xin, W);
      if (layer.useBias) a = tf.add(a, vars[v++]);
      h.push(tfActivation(layer.activation, a));
    });
    const out = h[h.length - 1];
    const K = out.shape[1];
    switch (spec.loss) {
      case 'sum_of_squares':
        return tf.mul(0.5, tf.sum(tf.square(tf.sub(y, out))));
      case 'mse':
        return tf.div(tf.sum(tf.square(tf.sub(y, out))), K);
      case 'softmax_cross_entropy':
        return tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(a))));
      case 'sigmoid_binary_cross_entropy':
        return tf.sum(tf.add(tf.sub(tf.relu(a), tf.mul(a, y)), tf.log1p(tf.exp(tf.neg(tf.abs(a))))));
    }
  };
}

describe('backprop vs TensorFlow.js tf.grads (float32)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('agrees on loss and every gradient to 1e-5 relative on random specs', () => {
    let worst = 0;
    fc.assert(
      fc.property(randomCase, ({ spec, batch, seed }) => {
        const { layout, p, x, y } = drawCase32(spec, batch, seed);
        const ours = lossAndGrad(spec, p, x, y, batch);

        const flatM = flatMask(spec, layout);
        const theirs = tf.tidy(() => {
          const vars = denseTensors(layout, p);
          const masks = denseMasks(spec, layout, flatM);
          const f = tfLoss(
            spec,
            tf.tensor2d(x, [batch, spec.inputSize]),
            tf.tensor2d(y, [batch, y.length / batch]),
            masks,
          );
          const { value, grads } = tf.valueAndGrads(f)(vars);
          const g = new Float32Array(layout.size);
          let o = 0;
          for (const t of grads) {
            g.set(t.dataSync(), o);
            o += t.size;
          }
          return { loss: value.dataSync()[0], grad: g };
        });

        const scale = Math.max(...Array.from(theirs.grad, Math.abs), 1e-3);
        const relLoss = Math.abs(ours.loss - theirs.loss) / Math.max(Math.abs(theirs.loss), 1e-3);
        expect(relLoss).toBeLessThan(1e-5);
        for (let i = 0; i < layout.size; i++) {
          const rel = Math.abs(ours.grad[i] - theirs.grad[i]) / Math.max(Math.abs(theirs.grad[i]), scale);
          worst = Math.max(worst, rel);
          if (!(rel < 1e-5)) {
            const truth = lossAndGrad64(spec, Float64Array.from(p), Float64Array.from(x), Float64Array.from(y), batch)
              .grad[i];
            const where = `param ${i}: f64 ${truth} ours ${ours.grad[i]} vs tf ${theirs.grad[i]} (rel ${rel})`;
            throw new Error(`${where} in ${JSON.stringify(spec)}`);
          }
        }
      }),
      { numRuns: 200, seed: 4242, endOnFailure: true },
    );
    console.log(`tf.grads check: worst relative error ${worst.toExponential(2)}`);
  });
});

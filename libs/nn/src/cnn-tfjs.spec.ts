import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { layerViews, type ParamLayout } from './layout';
import { forwardTrace, lossAndGrad, type ForwardTrace } from './network';
import { randomCnnCase } from '../../../test/support/random-network';
import { drawCase32, tfActivation } from '../../../test/support/tfjs-nets';
import type { Window2d } from './shapes';
import { activationOf, type NetworkSpec } from './spec';

/**
 * CNNs built from TensorFlow.js ops (tf.conv2d, tf.maxPool, tf.avgPool, reshape; float32, cpu
 * backend), differentiated by tf.grads, against our float32 lossAndGrad: the loss and every
 * gradient tensor (each layer's kernel and bias), per tensor, on 200 random CNN specs. tf.js sums
 * in float32 (we in float64), so a tensor agrees to 1e-4 of its largest value (2e-5 seen).
 */

/** J(kernels and biases) as a tf graph; kernels of conv layers are [kh, kw, cin, filters] (HWIO). */
function tfLoss(spec: NetworkSpec, layout: ParamLayout, x: tf.Tensor, y: tf.Tensor2D) {
  return (...vars: tf.Tensor[]): tf.Tensor => {
    const h: tf.Tensor[] = [x];
    let a: tf.Tensor = x;
    let v = 0;
    for (const l of layout.layers) {
      const n = l.index;
      const layer = spec.layers[n - 1];
      let xin = h[n - 1];
      if (l.skip) xin = l.skip.mode === 'concat' ? tf.concat([xin, h[l.skip.from]], 1) : tf.add(xin, h[l.skip.from]);
      const w = l.window;
      switch (l.kind) {
        case 'dense':
          a = tf.matMul(xin as tf.Tensor2D, vars[v++] as tf.Tensor2D);
          break;
        case 'conv2d': {
          const padding = layer.kind === 'conv2d' ? layer.padding : 'valid';
          a = tf.conv2d(xin as tf.Tensor4D, vars[v++] as tf.Tensor4D, [w!.sh, w!.sw], padding);
          break;
        }
        case 'maxPool2d':
        case 'avgPool2d': {
          const padding = layer.kind === l.kind ? layer.padding : 'valid';
          a =
            l.kind === 'maxPool2d'
              ? tf.maxPool(xin as tf.Tensor4D, [w!.kh, w!.kw], [w!.sh, w!.sw], padding)
              : avgPoolValidCells(xin as tf.Tensor4D, w!);
          break;
        }
        case 'flatten':
          a = tf.reshape(xin, [xin.shape[0], -1]);
          break;
      }
      if (l.biasOffset >= 0) a = tf.add(a, vars[v++]);
      h.push(tfActivation(activationOf(layer), a));
    }
    const out = h[h.length - 1] as tf.Tensor2D;
    switch (spec.loss) {
      case 'sum_of_squares':
        return tf.mul(0.5, tf.sum(tf.square(tf.sub(y, out))));
      case 'mse':
        return tf.div(tf.sum(tf.square(tf.sub(y, out))), out.shape[1]);
      case 'softmax_cross_entropy':
        return tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(a))));
      case 'sigmoid_binary_cross_entropy':
        return tf.sum(tf.add(tf.sub(tf.relu(a), tf.mul(a, y)), tf.log1p(tf.exp(tf.neg(tf.abs(a))))));
    }
  };
}

/**
 * Average pooling over the valid cells of each window, as tf.avgPool computes it forward. Not
 * tf.avgPool(x, 'same') itself: the cpu backend's AvgPoolGrad divides by the whole window
 * (kh * kw) where the forward divided by the valid cells, so at a padded edge its gradient is not
 * the derivative of its forward. Here: pad with zeros, tf.avgPool 'valid' (sum / (kh * kw)), times
 * kh * kw / valid cells, a constant per output cell.
 */
function avgPoolValidCells(x: tf.Tensor4D, w: Window2d): tf.Tensor {
  const padBottom = Math.max((w.outH - 1) * w.sh + w.kh - w.inH, 0) - w.padTop;
  const padRight = Math.max((w.outW - 1) * w.sw + w.kw - w.inW, 0) - w.padLeft;
  const padded = tf.pad(x, [
    [0, 0],
    [w.padTop, padBottom],
    [w.padLeft, padRight],
    [0, 0],
  ]);
  const scale = new Float32Array(w.outH * w.outW);
  for (let oy = 0; oy < w.outH; oy++) {
    for (let ox = 0; ox < w.outW; ox++) {
      const rows = Math.min(oy * w.sh - w.padTop + w.kh, w.inH) - Math.max(oy * w.sh - w.padTop, 0);
      const cols = Math.min(ox * w.sw - w.padLeft + w.kw, w.inW) - Math.max(ox * w.sw - w.padLeft, 0);
      scale[oy * w.outW + ox] = (w.kh * w.kw) / (rows * cols);
    }
  }
  const avg = tf.avgPool(padded, [w.kh, w.kw], [w.sh, w.sw], 'valid');
  return tf.mul(avg, tf.tensor4d(scale, [1, w.outH, w.outW, 1]));
}

/** The kernel and bias tensors of every layer with parameters, in the flat layout's order. */
function tensorsOf(layout: ParamLayout, p: Float32Array): { name: string; t: tf.Tensor }[] {
  const views = layerViews(layout, p);
  return layout.layers.flatMap((l, k) => {
    if (l.kernelSize === 0) return [];
    const w = l.window;
    const dims = l.kind === 'conv2d' ? [w!.kh, w!.kw, w!.inC, w!.outC] : [l.fanIn, l.units];
    const out = [{ name: `kernel_${l.index}`, t: tf.tensor(views[k].kernel, dims) }];
    if (views[k].bias) out.push({ name: `bias_${l.index}`, t: tf.tensor1d(views[k].bias!) });
    return out;
  });
}

/** Whether a relu-family pre-activation or a max-pool window is within `eps` of a kink. */
function nearKink(layout: ParamLayout, spec: NetworkSpec, t: ForwardTrace, eps: number): boolean {
  return layout.layers.some((l) => {
    const act = activationOf(spec.layers[l.index - 1]);
    if (['relu', 'leaky_relu'].includes(act) && t.a[l.index].some((v) => Math.abs(v) < eps)) return true;
    if (l.kind !== 'maxPool2d') return false;
    // two different values of the input closer than eps (a float32 rounding could swap a window's arg-max)
    const sorted = Float64Array.from(t.x[l.index]).sort();
    return sorted.some((v, i) => i > 0 && v !== sorted[i - 1] && v - sorted[i - 1] < eps);
  });
}

describe('CNN backprop vs TensorFlow.js tf.grads (float32)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('agrees on the loss (1e-5) and every gradient tensor (1e-4 of its largest value) on 200 random CNN specs', () => {
    let worst = 0;
    let tensors = 0;
    fc.assert(
      fc.property(randomCnnCase, ({ spec, batch, seed }) => {
        const { layout, p, x, y } = drawCase32(spec, batch, seed);
        fc.pre(!nearKink(layout, spec, forwardTrace(spec, p, x, batch), 1e-4));
        const ours = lossAndGrad(spec, p, x, y, batch);

        const theirs = tf.tidy(() => {
          const named = tensorsOf(layout, p);
          const xShape = spec.inputShape ? [batch, ...spec.inputShape] : [batch, spec.inputSize];
          const f = tfLoss(spec, layout, tf.tensor(x, xShape), tf.tensor2d(y, [batch, y.length / batch]));
          const { value, grads } = tf.valueAndGrads(f)(named.map((n) => n.t));
          return { loss: value.dataSync()[0], grads: grads.map((g, i) => ({ name: named[i].name, g: g.dataSync() })) };
        });

        expect(Math.abs(ours.loss - theirs.loss) / Math.max(Math.abs(theirs.loss), 1e-3)).toBeLessThan(1e-5);
        // the flat gradient, tensor by tensor in the same order
        let o = 0;
        for (const { name, g } of theirs.grads) {
          const mine = ours.grad.subarray(o, o + g.length);
          o += g.length;
          const scale = Math.max(...Array.from(g, Math.abs), 1e-3);
          const err = Math.max(...Array.from(g, (v, i) => Math.abs(mine[i] - v))) / scale;
          worst = Math.max(worst, err);
          tensors++;
          if (!(err < 1e-4)) throw new Error(`${name}: relative error ${err} in ${JSON.stringify(spec)}`);
        }
        expect(o).toBe(layout.size);
      }),
      { numRuns: 200, seed: 4243, endOnFailure: true },
    );
    console.log(`CNN tf.grads check: ${tensors} tensors, worst relative error ${worst.toExponential(2)}`);
  });
});

/**
 * Shared pieces of the specs of libs/nn against TensorFlow.js (float32, cpu backend): a random
 * case's float32 parameters and data, the activations as tf ops, and a dense network's flat
 * parameters and masks as tf tensors. A test fixture.
 */
import {
  createRng,
  isDense,
  layerViews,
  paramLayout,
  type Activation,
  type NetworkSpec,
  type ParamLayout,
} from '@nnq/nn';
import * as tf from '@tensorflow/tfjs-core';
import { randomData, randomParams } from './random-network';

/**
 * Parameters and data of a random case in float32, drawn from `seed` (data: the float64 draw);
 * `rng` is returned for further draws after them.
 */
export function drawCase32(spec: NetworkSpec, batch: number, seed: number) {
  const rng = createRng(seed);
  const layout = paramLayout(spec);
  const p = Float32Array.from(randomParams(layout.size, rng));
  const data = randomData(spec, batch, rng);
  const x = Float32Array.from(data.x);
  const y = Float32Array.from(data.y);
  return { rng, layout, p, data, x, y };
}

/** An activation as tf ops, in the same form as libs/nn's. */
export function tfActivation<T extends tf.Tensor>(act: Activation, a: T): T {
  switch (act) {
    case 'identity':
      return a;
    case 'relu':
      return tf.relu(a);
    case 'leaky_relu':
      return tf.leakyRelu(a, 0.01);
    case 'elu':
      return tf.elu(a);
    case 'sigmoid':
      return tf.sigmoid(a);
    case 'tanh':
      return tf.tanh(a);
    case 'softplus':
      return tf.softplus(a);
    case 'gelu': // 0.5 a (1 + tanh(sqrt(2/pi) (a + 0.044715 a^3)))
      return tf.mul(
        0.5,
        tf.mul(a, tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(a, tf.mul(0.044715, tf.pow(a, 3))))))),
      );
    case 'softmax':
      return tf.softmax(a);
  }
}

/** A dense network's flat vector as its per-layer [kernel, bias?] tensors, in the flat layout's order. */
export function denseTensors(layout: ParamLayout, flat: Float32Array): tf.Tensor[] {
  const views = layerViews(layout, flat);
  const out: tf.Tensor[] = [];
  layout.layers.forEach((l, k) => {
    out.push(tf.tensor2d(views[k].kernel, [l.fanIn, l.units]));
    if (views[k].bias) out.push(tf.tensor1d(views[k].bias!));
  });
  return out;
}

/** Each dense layer's mask from the flat mask as a [fanIn, units] tensor; null for an unmasked layer. */
export function denseMasks(spec: NetworkSpec, layout: ParamLayout, flatM: Float32Array | null): (tf.Tensor2D | null)[] {
  return layout.layers.map((l, k) => {
    const layer = spec.layers[k];
    return flatM && isDense(layer) && layer.mask
      ? tf.tensor2d(flatM.subarray(l.kernelOffset, l.kernelOffset + l.kernelSize), [l.fanIn, l.units])
      : null;
  });
}

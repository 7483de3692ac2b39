import type * as Tf from '@tensorflow/tfjs-core';

/**
 * Gradients of the kernels the benchmark's TensorFlow.js models use, ported from
 * tfjs-core/src/gradients (BatchMatMul, Add, Relu, Sum, Multiply, Neg; Conv2D, MaxPool, Reshape).
 *
 * tfjs-core's own `register_all_gradients` ships only as extensionless ES modules, which plain
 * Node cannot load next to the CommonJS bundle the wasm backend registers with (vitest can).
 * Registered only where missing.
 */
export function registerBenchGradients(tf: typeof Tf): void {
  const { getReductionAxes, assertAndGetBroadcastShape } = tf.backend_util;
  const reduceTo = (t: Tf.Tensor, shape: number[], outShape: number[]): Tf.Tensor => {
    const axes = getReductionAxes(shape, outShape);
    return tf.reshape(axes.length > 0 ? tf.sum(t, axes) : t, shape);
  };
  const configs: Tf.GradConfig[] = [
    {
      kernelName: 'BatchMatMul',
      inputsToSave: ['a', 'b'],
      gradFunc: (dy, saved, attrs) => {
        const [a, b] = saved;
        const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
        const d = dy as Tf.Tensor;
        if (!transposeA && !transposeB) {
          return { a: () => tf.matMul(d, b, false, true), b: () => tf.matMul(a, d, true, false) };
        }
        if (!transposeA && transposeB) {
          return { a: () => tf.matMul(d, b, false, false), b: () => tf.matMul(d, a, true, false) };
        }
        if (transposeA && !transposeB) {
          return { a: () => tf.matMul(b, d, false, true), b: () => tf.matMul(a, d, false, false) };
        }
        return { a: () => tf.matMul(b, d, true, true), b: () => tf.matMul(d, a, true, true) };
      },
    },
    {
      kernelName: 'Add',
      inputsToSave: ['a', 'b'],
      gradFunc: (dy, saved) => {
        const [a, b] = saved;
        const out = assertAndGetBroadcastShape(a.shape, b.shape);
        return { a: () => reduceTo(dy as Tf.Tensor, a.shape, out), b: () => reduceTo(dy as Tf.Tensor, b.shape, out) };
      },
    },
    {
      kernelName: 'Relu',
      inputsToSave: ['x'],
      gradFunc: (dy, saved) => ({ x: () => tf.mul(dy as Tf.Tensor, tf.cast(tf.step(saved[0]), 'float32')) }),
    },
    {
      kernelName: 'Sum',
      inputsToSave: ['x'],
      gradFunc: (dy, saved, attrs) => {
        const [x] = saved;
        const shape = x.shape.slice();
        tf.util.parseAxisParam((attrs as unknown as { axis: number | number[] }).axis, x.shape).forEach((ax) => {
          shape[ax] = 1;
        });
        const derX = tf.mul(tf.reshape(dy as Tf.Tensor, shape), tf.ones(x.shape, 'float32'));
        return { x: () => derX };
      },
    },
    {
      kernelName: 'Multiply',
      inputsToSave: ['a', 'b'],
      gradFunc: (dy, saved) => {
        const [a, b] = saved;
        const out = assertAndGetBroadcastShape(a.shape, b.shape);
        return {
          a: () => reduceTo(tf.mul(dy as Tf.Tensor, tf.cast(b, 'float32')), a.shape, out),
          b: () => reduceTo(tf.mul(dy as Tf.Tensor, tf.cast(a, 'float32')), b.shape, out),
        };
      },
    },
    { kernelName: 'Neg', gradFunc: (dy) => ({ x: () => tf.neg(dy as Tf.Tensor) }) },
    {
      kernelName: 'Reshape',
      inputsToSave: ['x'],
      gradFunc: (dy, saved) => ({ x: () => tf.reshape(dy as Tf.Tensor, saved[0].shape) }),
    },
    {
      kernelName: 'MaxPool',
      inputsToSave: ['x'],
      outputsToSave: [true],
      gradFunc: (dy, saved, attrs) => {
        const [x, y] = saved;
        const inputs = { dy: dy as Tf.Tensor, input: x, output: y };
        return { x: () => tf.engine().runKernel('MaxPoolGrad', inputs, attrs) as Tf.Tensor };
      },
    },
    {
      kernelName: 'Conv2D',
      inputsToSave: ['x', 'filter'],
      gradFunc: (dy, saved, attrs) => conv2dGrad(tf, dy, saved, attrs),
    },
  ];
  for (const c of configs) if (!tf.getGradient(c.kernelName)) tf.registerGradient(c);
}

/**
 * Conv2D (NHWC, dilation 1): dx by conv2dTranspose (the wasm backend's Conv2DBackpropInput).
 * The wasm backend has no Conv2DBackpropFilter kernel, so dW is the convolution of the input with
 * the delta, samples as channels and the strides as dilations, on its own Conv2D (XNNPACK), the same
 * identity engine-onnx uses; the taps a valid window never reaches are sliced off.
 */
function conv2dGrad(
  tf: typeof Tf,
  dy: Tf.Tensor | Tf.Tensor[],
  saved: Tf.Tensor[],
  attrs: Tf.NamedAttrMap,
): Record<string, () => Tf.Tensor> {
  const [x, filter] = saved as [Tf.Tensor4D, Tf.Tensor4D];
  const d = dy as Tf.Tensor4D;
  const { strides, pad } = attrs as unknown as { strides: [number, number] | number; pad: 'valid' | 'same' };
  const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
  const info = tf.backend_util.computeConv2DInfo(x.shape, filter.shape, [sh, sw], 1, pad);
  const { top, bottom, left, right } = info.padInfo;
  return {
    x: () => tf.conv2dTranspose(d, filter, x.shape, [sh, sw], pad),
    filter: () => {
      const xT = tf.transpose(x, [3, 1, 2, 0]); // [cin, H, W, batch]
      const dT = tf.transpose(d, [1, 2, 0, 3]); // [outH, outW, batch, filters]
      const pads: [[number, number], [number, number], [number, number], [number, number]] = [
        [0, 0],
        [top, bottom],
        [left, right],
        [0, 0],
      ];
      const all = tf.conv2d(xT, dT, 1, pads, 'NHWC', [sh, sw]); // [cin, kh', kw', filters]
      const [kh, kw] = [filter.shape[0], filter.shape[1]];
      return tf.transpose(tf.slice(all, [0, 0, 0, 0], [-1, kh, kw, -1]), [1, 2, 0, 3]);
    },
  };
}

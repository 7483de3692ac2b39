import type * as Tf from '@tensorflow/tfjs-core';

/**
 * Gradients of the six kernels the benchmark's TensorFlow.js model uses, ported from
 * tfjs-core/src/gradients (BatchMatMul, Add, Relu, Sum, Multiply, Neg).
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
  ];
  for (const c of configs) if (!tf.getGradient(c.kernelName)) tf.registerGradient(c);
}

/**
 * The engines the benchmark times, for any model: engine-onnx (per-layer parameter views, or one
 * flat vector sliced in the graph), the libs/nn reference backprop and TensorFlow.js on its wasm
 * backend (one thread). Each engine writes the gradient into its own flat buffer, so the
 * benchmark can check that they agree before timing them.
 */
import * as nn from '@nnq/nn';
import { compileTrainingStep, type ParamFeed } from '@nnq/engine-onnx';
import type * as Tf from '@tensorflow/tfjs-core';
import { dirname, join } from 'node:path';
import type { StepFn } from './timing';
import { registerBenchGradients } from './tfjs-gradients';

/** A network to time, its parameters and a fixed batch of data per batch size. */
export interface Model {
  readonly title: string;
  readonly spec: nn.NetworkSpec;
  readonly params: Float32Array;
  batchData(batch: number): { x: Float32Array; y: Float32Array };
}

export interface Engine {
  readonly name: string;
  /** The gradient buffer the step writes (compared across engines once per batch size). */
  readonly grad: Float32Array;
  /** Prepare one batch size; returns the step to time, or a reason it cannot run. */
  prepare(batch: number): Promise<StepFn | string>;
  dispose(): Promise<void>;
}

export function onnxEngine(model: Model, feed: ParamFeed): Engine {
  const step = compileTrainingStep(model.spec, { threads: 1, feed });
  const grad = new Float32Array(model.params.length);
  return {
    name: feed === 'views' ? 'engine-onnx' : 'engine-onnx-flat',
    grad,
    async prepare(batch) {
      const { x, y } = model.batchData(batch);
      try {
        await step.session(batch);
      } catch (err) {
        return `onnxruntime-node unavailable: ${(err as Error).message}`;
      }
      return async () => void (await step.run(model.params, x, y, batch, grad));
    },
    dispose: () => step.dispose(),
  };
}

export function referenceEngine(model: Model): Engine {
  const grad = new Float32Array(model.params.length);
  return {
    name: 'nn-reference',
    grad,
    async prepare(batch) {
      const { x, y } = model.batchData(batch);
      return () => void nn.lossAndGrad(model.spec, model.params, x, y, batch, grad);
    },
    dispose: async () => undefined,
  };
}

export type TfModule = typeof Tf;

/** TensorFlow.js with the wasm backend on one thread, or why it cannot run. */
export async function loadTfjsWasm(): Promise<TfModule | string> {
  try {
    const tf = await import('@tensorflow/tfjs-core');
    registerBenchGradients(tf);
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // the .wasm binaries ship in the package: load them from node_modules, never from a CDN
    const dir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
    wasm.setWasmPaths(join(dir, 'dist') + '/');
    wasm.setThreadsCount(1);
    if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") returned false');
    await tf.ready();
    return tf;
  } catch (err) {
    return `tfjs-backend-wasm unavailable: ${(err as Error).message}`;
  }
}

/** The model's forward pass in TensorFlow.js: logits from the input batch and the variables. */
export type TfForward = (x: Tf.Tensor, vars: readonly { W: Tf.Variable; b: Tf.Variable }[]) => Tf.Tensor2D;

/**
 * The TensorFlow.js training step: J = -sum y log softmax(logits) summed over the batch, the
 * gradient of every kernel and bias read back into one flat vector as the other engines return it.
 * `kernelShape` gives each layer's kernel shape (HWIO for conv, [fanIn, units] for dense).
 */
export function tfjsEngine(
  tf: TfModule | string,
  model: Model,
  forward: TfForward,
  kernelShape: (l: nn.LayerLayout) => number[],
  inputShape: number[],
): Engine {
  if (typeof tf === 'string') {
    return { name: 'tfjs-wasm', grad: new Float32Array(0), prepare: async () => tf, dispose: async () => undefined };
  }
  const { params } = model;
  const layers = nn.paramLayout(model.spec).layers.filter((l) => l.kernelSize > 0);
  const vars = layers.map((l) => ({
    W: tf.variable(tf.tensor(params.slice(l.kernelOffset, l.kernelOffset + l.kernelSize), kernelShape(l))),
    b: tf.variable(tf.tensor1d(params.slice(l.biasOffset, l.biasOffset + l.biasSize))),
  }));
  const grad = new Float32Array(params.length);
  const K = nn.outputUnits(model.spec);
  return {
    name: 'tfjs-wasm',
    grad,
    async prepare(batch) {
      const { x, y } = model.batchData(batch);
      const X = tf.tensor(x, [batch, ...inputShape]);
      const Y = tf.tensor2d(y, [batch, K]);
      return () => {
        const { value, grads } = tf.variableGrads(
          () => tf.neg(tf.sum(tf.mul(Y, tf.logSoftmax(forward(X, vars))))) as Tf.Scalar,
        );
        value.dataSync();
        layers.forEach((l, k) => {
          grad.set(grads[vars[k].W.name].dataSync() as Float32Array, l.kernelOffset);
          grad.set(grads[vars[k].b.name].dataSync() as Float32Array, l.biasOffset);
        });
        tf.dispose([value, ...Object.values(grads)]);
      };
    },
    dispose: async () => tf.disposeVariables(),
  };
}

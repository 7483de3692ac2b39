/**
 * The example CNN of the benchmark (examples/fashion-mnist-cnn.json's architecture on 28x28x1):
 * its model, its TensorFlow.js forward pass, the floating-point operations of one training step,
 * and one core's measured matrix-multiply rate in onnxruntime (the yardstick of its GFLOP/s).
 */
import * as nn from '@nnq/nn';
import { sessionOptions, importOrt } from '@nnq/engine-onnx';
import { onnx } from 'onnx-proto';
import type { Model, TfForward, TfModule } from './engines';
import type { StepFn } from './timing';

export const CNN_SPEC: nn.NetworkSpecInput = {
  inputShape: [28, 28, 1],
  layers: [
    { kind: 'conv2d', filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' },
    { kind: 'maxPool2d', poolSize: 2 },
    { kind: 'conv2d', filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' },
    { kind: 'maxPool2d', poolSize: 2 },
    { kind: 'flatten' },
    { units: 128, activation: 'relu' },
    { units: 10, activation: 'softmax' },
  ],
  loss: 'softmax_cross_entropy',
};

export function cnnModel(): Model {
  const spec = nn.parseSpec(CNN_SPEC);
  const params = nn.initParams(spec, nn.createRng(2024));
  const K = nn.outputUnits(spec);
  return {
    title:
      'CNN 28x28x1: conv 32 3x3 same relu, maxpool 2, conv 64 3x3 same relu, maxpool 2, dense 128 relu, 10 softmax',
    spec,
    params,
    batchData(batch) {
      const r = nn.createRng(batch);
      const x = Float32Array.from({ length: batch * spec.inputSize }, () => r.next());
      const y = new Float32Array(batch * K);
      for (let i = 0; i < batch; i++) y[i * K + r.int(K)] = 1;
      return { x, y };
    },
  };
}

/** The same network in TensorFlow.js (NHWC, HWIO kernels: the flat layout's own shapes). */
export function cnnTfForward(tf: TfModule): TfForward {
  return (x, vars) => {
    let h = tf.relu(tf.add(tf.conv2d(x as never, vars[0].W as never, 1, 'same'), vars[0].b)) as never;
    h = tf.maxPool(h, 2, 2, 'valid') as never;
    h = tf.relu(tf.add(tf.conv2d(h, vars[1].W as never, 1, 'same'), vars[1].b)) as never;
    h = tf.maxPool(h, 2, 2, 'valid') as never;
    const flat = tf.reshape(h, [(h as { shape: number[] }).shape[0], -1]);
    const d = tf.relu(tf.add(tf.matMul(flat as never, vars[2].W as never), vars[2].b));
    return tf.add(tf.matMul(d as never, vars[3].W as never), vars[3].b) as never;
  };
}

/** Kernel shapes for TensorFlow.js: HWIO for conv layers, [fanIn, units] for dense. */
export function kernelShapeOf(spec: nn.NetworkSpec): (l: nn.LayerLayout) => number[] {
  const layout = nn.paramLayout(spec);
  return (l) => {
    const layer = spec.layers[l.index - 1];
    if (layer.kind !== 'conv2d') return [l.fanIn, l.units];
    const [kh, kw] = nn.pair(layer.kernelSize);
    return [kh, kw, layout.shapes[l.index - 1][2] ?? 1, l.units];
  };
}

/**
 * Multiply-adds of one training step per sample, times 2: the forward products of every layer with
 * parameters (output cells x kernel size), the same again for the kernel gradients, and again for
 * the input gradients of every such layer but the first (nothing before it needs a delta).
 * Element-wise work (activations, pooling, bias) is not counted.
 */
export function trainingFlopsPerSample(spec: nn.NetworkSpec): number {
  const layout = nn.paramLayout(spec);
  let macs = 0;
  let first = true;
  for (const l of layout.layers) {
    if (l.kernelSize === 0) continue;
    const shape = layout.shapes[l.index];
    const cells = shape.length === 3 ? shape[0] * shape[1] : 1; // a kernel is applied once per output cell
    const forward = cells * l.kernelSize;
    macs += forward * (first ? 2 : 3);
    first = false;
  }
  return 2 * macs;
}

export const MATMUL_N = 1024;
/** Floating-point operations of one MATMUL_N^3 MatMul. */
export const MATMUL_FLOP = 2 * MATMUL_N ** 3;

/**
 * One 1024 x 1024 x 1024 MatMul in onnxruntime with the engine's session options (one thread), as a
 * step to time beside the engines: its runs per second times MATMUL_FLOP are one core's rate.
 */
export async function matmulStep(): Promise<{ step: StepFn; dispose: () => Promise<void> }> {
  const ort = await importOrt();
  const n = MATMUL_N;
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const info = (name: string) => ({
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimValue: n }, { dimValue: n }] } } },
  });
  const model = onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'matmul',
      node: [{ opType: 'MatMul', input: ['a', 'b'], output: ['c'] }],
      input: [info('a'), info('b')],
      output: [info('c')],
    },
  }).finish();
  const session = await ort.InferenceSession.create(model, sessionOptions({ threads: 1 }));
  const rng = nn.createRng(1);
  const a = new ort.Tensor(
    'float32',
    Float32Array.from({ length: n * n }, () => rng.normal()),
    [n, n],
  );
  const b = new ort.Tensor(
    'float32',
    Float32Array.from({ length: n * n }, () => rng.normal()),
    [n, n],
  );
  return { step: async () => void (await session.run({ a, b })), dispose: () => session.release() };
}

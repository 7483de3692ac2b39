import { parsePreprocessing, toAffine, type Affine, type Preprocessing } from '@nnq/data';
import { paramLayout, type ModelContents, type NetworkSpec } from '@nnq/nn';

/**
 * What a model file becomes outside nnq: the inputs of an ONNX export (engine-onnx's
 * exportOnnxModel: the preprocessing folded in as x * mul + add, documented input and output,
 * metadata) and the weights as Keras-style named arrays (`nnq export --json`).
 */

/** Who exports: the nnq version and, when known, the run the model came from. */
export interface ExportAbout {
  nnqVersion: string;
  runId?: string;
}

export interface OnnxExportInputs {
  spec: NetworkSpec;
  params: Float32Array;
  /** The recorded feature steps (scale, standardize) as one per-feature affine map. */
  preprocess: Affine;
  docString: string;
  inputDoc: string;
  outputDoc: string;
  /** ONNX metadata_props: nnq_version, nnq_run_id, nnq_name, nnq_step, nnq_spec, nnq_preprocessing, nnq_classes. */
  metadata: Record<string, string>;
}

export function onnxExportInputs(model: ModelContents, about: ExportAbout): OnnxExportInputs {
  const pre = model.preprocessing ? parsePreprocessing(model.preprocessing) : undefined;
  const F = model.spec.inputSize;
  const layout = paramLayout(model.spec);
  const K = layout.widths[layout.widths.length - 1];
  const last = model.spec.layers[model.spec.layers.length - 1];
  const activation = 'activation' in last ? last.activation : 'identity';
  const runId = about.runId ?? model.extra.run;
  const name = model.extra.name;
  const classes = pre?.target?.type === 'onehot' ? pre.target.classes : undefined;
  const metadata: Record<string, string> = { nnq_version: about.nnqVersion };
  if (runId) metadata.nnq_run_id = runId;
  if (name) metadata.nnq_name = name;
  if (model.extra.step) metadata.nnq_step = model.extra.step;
  metadata.nnq_spec = JSON.stringify(model.spec);
  metadata.nnq_preprocessing = JSON.stringify(pre ?? null);
  if (classes) metadata.nnq_classes = JSON.stringify(classes);
  return {
    spec: model.spec,
    params: model.params,
    preprocess: toAffine(pre, F),
    docString: `nnq network${name ? ` ${name}` : ''}${runId ? ` (run ${runId})` : ''}, nnq ${about.nnqVersion}`,
    inputDoc: inputDoc(pre, F),
    outputDoc: outputDoc(activation, K, classes),
    metadata,
  };
}

function inputDoc(pre: Preprocessing | undefined, F: number): string {
  const steps = pre?.steps.map((s) => s.type).join(' then ') || 'none';
  return (
    `raw features [batch, ${F}] (float32), in the columns' order of the training data; ` +
    `the run's preprocessing (${steps}) is inside the graph as x * preprocess_mul + preprocess_add`
  );
}

function outputDoc(activation: string, K: number, classes: readonly string[] | undefined): string {
  const what = `h(L) [batch, ${K}] (float32), the ${activation} output layer`;
  if (!classes) return `${what}: the predicted values`;
  if (K === 1)
    return `${what}: the probability of class ${JSON.stringify(classes[1] ?? '1')} (classes ${list(classes)})`;
  return `${what}: one probability per class, in the order ${list(classes)}`;
}

const list = (classes: readonly string[]) => classes.map((c) => JSON.stringify(c)).join(', ');

/** Nested arrays of a tensor's values in row-major order, one level per dimension. */
export type NestedNumbers = number[] | NestedNumbers[];

/**
 * One named weight array, as Keras names them: `dense_1/kernel` [fanIn, units], `conv2d_1/kernel`
 * [kh, kw, cin, filters] (HWIO), `<layer>_n/bias` [units].
 */
export interface NamedArray {
  name: string;
  shape: number[];
  values: NestedNumbers;
}

export interface KerasWeights {
  format: 'nnq-keras-weights-1';
  /** How to use them: h(n) = f(x(n) @ kernel + bias), layer by layer, after the preprocessing. */
  about: string;
  spec: NetworkSpec;
  preprocessing: Preprocessing | null;
  weights: NamedArray[];
}

/** The model's weights as Keras-style named arrays, for anyone without a safetensors reader. */
export function kerasWeights(model: ModelContents): KerasWeights {
  const layout = paramLayout(model.spec);
  const p = model.params;
  const weights: NamedArray[] = [];
  for (const l of layout.layers) {
    if (l.kernelSize === 0) continue; // pooling and flatten hold no parameters
    const name = `${l.kind === 'conv2d' ? 'conv2d' : 'dense'}_${l.index}`;
    // a conv kernel is stored as [kh * kw * cin, filters] rows, i.e. [kh, kw, cin, filters] row-major
    const shape =
      l.kind === 'conv2d' && l.window ? [l.window.kh, l.window.kw, l.window.inC, l.units] : [l.fanIn, l.units];
    weights.push({
      name: `${name}/kernel`,
      shape,
      values: nest(p.subarray(l.kernelOffset, l.kernelOffset + l.kernelSize), shape),
    });
    if (l.biasOffset >= 0) {
      const bias = Array.from(p.subarray(l.biasOffset, l.biasOffset + l.biasSize));
      weights.push({ name: `${name}/bias`, shape: [l.units], values: bias });
    }
  }
  return {
    format: 'nnq-keras-weights-1',
    about:
      'h(0) = the preprocessed input (preprocessing.steps in order); h(n) = f(x(n) @ dense_n/kernel + dense_n/bias) ' +
      'with f the activation of spec.layers[n-1] and x(n) = h(n-1), or [h(n-1), h(from)] for a concat skip ' +
      'ending at n (spec.skips), or h(n-1) + h(from) for an add skip; a masked connection is 0 in its kernel. ' +
      'conv2d_n is a Keras Conv2D (channels last, kernel [kh, kw, cin, filters], strides and padding as in ' +
      'spec.layers[n-1]); pooling and flatten layers hold no weights',
    spec: model.spec,
    preprocessing: model.preprocessing ? parsePreprocessing(model.preprocessing) : null,
    weights,
  };
}

/** `flat` (row-major) as nested arrays of `shape`. */
function nest(flat: Float32Array, shape: readonly number[]): NestedNumbers {
  if (shape.length === 1) return Array.from(flat);
  const stride = flat.length / shape[0];
  return Array.from({ length: shape[0] }, (_, i) => nest(flat.subarray(i * stride, (i + 1) * stride), shape.slice(1)));
}

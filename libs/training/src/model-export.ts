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

/** Nested arrays of a tensor's values in row-major order (a vector, or rows of a matrix). */
export type NestedNumbers = number[] | number[][];

/** One named weight array, as Keras names them (`dense_1/kernel`, [fanIn, units]; `dense_1/bias`, [units]). */
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
    const rows: number[][] = [];
    for (let i = 0; i < l.fanIn; i++) {
      const at = l.kernelOffset + i * l.units;
      rows.push(Array.from(p.subarray(at, at + l.units)));
    }
    weights.push({ name: `dense_${l.index}/kernel`, shape: [l.fanIn, l.units], values: rows });
    if (l.biasOffset >= 0) {
      const bias = Array.from(p.subarray(l.biasOffset, l.biasOffset + l.biasSize));
      weights.push({ name: `dense_${l.index}/bias`, shape: [l.units], values: bias });
    }
  }
  return {
    format: 'nnq-keras-weights-1',
    about:
      'h(0) = the preprocessed input (preprocessing.steps in order); h(n) = f(x(n) @ dense_n/kernel + dense_n/bias) ' +
      'with f the activation of spec.layers[n-1] and x(n) = h(n-1), or [h(n-1), h(from)] for a concat skip ' +
      'ending at n (spec.skips), or h(n-1) + h(from) for an add skip; a masked connection is 0 in its kernel',
    spec: model.spec,
    preprocessing: model.preprocessing ? parsePreprocessing(model.preprocessing) : null,
    weights,
  };
}

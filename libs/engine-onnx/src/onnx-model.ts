import type { NetworkSpec } from '@nnq/nn';
import { onnx } from 'onnx-proto';
import { exportOnnx, FORWARD_INPUT, FORWARD_OUTPUT, type Preprocess } from './forward';

/** An exported model for use outside nnq: exportOnnx's graph, documented and labelled. */
export interface OnnxModelInputs {
  spec: NetworkSpec;
  params: Float32Array;
  /** The run's preprocessing as x * mul + add per feature (first node of the graph). */
  preprocess?: Preprocess;
  /** The model's doc_string. */
  docString: string;
  /** doc_string of the graph input `input` and output `output`. */
  inputDoc: string;
  outputDoc: string;
  /** metadata_props (nnq version, run id, spec, ...). */
  metadata: Record<string, string>;
  /** producer_version (the nnq version). */
  producerVersion?: string;
}

/**
 * A standalone ONNX model file (exportOnnx: weights as initializers, the preprocessing folded in,
 * input `input` [batch, F], output `output` [batch, K]) with doc_strings on the model, its input
 * and its output, and metadata_props: what a runtime or a person needs to use it without nnq.
 */
export function exportOnnxModel(m: OnnxModelInputs): Uint8Array {
  const bytes = exportOnnx(m.spec, m.params, { preprocess: m.preprocess, docString: m.docString });
  const model = onnx.ModelProto.decode(bytes);
  model.producerName = 'nnq';
  model.producerVersion = m.producerVersion ?? '';
  model.metadataProps = Object.entries(m.metadata).map(([key, value]) =>
    onnx.StringStringEntryProto.create({ key, value }),
  );
  const graph = model.graph!;
  for (const v of graph.input ?? []) if (v.name === FORWARD_INPUT) v.docString = m.inputDoc;
  for (const v of graph.output ?? []) if (v.name === FORWARD_OUTPUT) v.docString = m.outputDoc;
  return onnx.ModelProto.encode(model).finish();
}

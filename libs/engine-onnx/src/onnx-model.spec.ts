import { parseSpec } from '@nnq/nn';
import { onnx } from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { XOR_PARAMS, XOR_SPEC } from '../../../test/support/xor-float32';
import { FORWARD_INPUT, FORWARD_OUTPUT } from './forward';
import { exportOnnxModel } from './onnx-model';
import { sessionOptions } from './ort';

// The lecture's XOR network behind a preprocessing x' = x * mul + add that maps the raw rows
// (2|6, 4|12) onto the lecture's inputs (0|1, 0|1): mul = [1/4, 1/8], add = [-1/2, -1/2].
const inputs = {
  spec: parseSpec(XOR_SPEC),
  params: XOR_PARAMS,
  preprocess: { mul: Float32Array.of(0.25, 0.125), add: Float32Array.of(-0.5, -0.5) },
  docString: 'nnq network xor',
  inputDoc: 'raw features',
  outputDoc: 'the XOR of the two inputs',
  metadata: { nnq_version: '9.8.7', nnq_run_id: 'abc' },
  producerVersion: '9.8.7',
};

describe('exportOnnxModel', () => {
  it('runs the preprocessing inside the graph: raw rows give the lecture XOR outputs 0, 1, 1, 0', async () => {
    const session = await ort.InferenceSession.create(exportOnnxModel(inputs), sessionOptions({}));
    try {
      const raw = Float32Array.of(2, 4, 2, 12, 6, 4, 6, 12);
      const r = await session.run({ [FORWARD_INPUT]: new ort.Tensor('float32', raw, [4, 2]) });
      expect([...(r[FORWARD_OUTPUT].data as Float32Array)]).toEqual([0, 1, 1, 0]);
    } finally {
      await session.release();
    }
  });

  it('documents the model, its input and output, and carries the metadata and producer', () => {
    const m = onnx.ModelProto.decode(exportOnnxModel(inputs));
    expect([m.producerName, m.producerVersion, m.docString]).toEqual(['nnq', '9.8.7', 'nnq network xor']);
    expect(m.metadataProps.map((p) => [p.key, p.value])).toEqual([
      ['nnq_version', '9.8.7'],
      ['nnq_run_id', 'abc'],
    ]);
    expect(m.graph!.input!.map((v) => [v.name, v.docString])).toEqual([[FORWARD_INPUT, 'raw features']]);
    expect(m.graph!.output!.map((v) => [v.name, v.docString])).toEqual([[FORWARD_OUTPUT, 'the XOR of the two inputs']]);
  });
});

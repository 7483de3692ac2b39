import { parseSpec, readModel, writeModel } from '@nnq/nn';
import { describe, expect, it } from 'vitest';
import { XOR_PARAMS, XOR_SPEC } from '../../../test/support/xor';
import { kerasWeights, onnxExportInputs } from './model-export';

// The lecture's XOR network (W = [[1,1],[1,1]], c = [0,-1], w = [1,-2], b = 0) as a model file,
// with a scale then a standardize step and one-hot classes, as a run records them.
const preprocessing = {
  steps: [
    { type: 'scale', factor: 0.5 },
    { type: 'standardize', mean: [1, 2], std: [2, 4] },
  ],
  target: { type: 'onehot', classes: ['no', 'yes'] },
};
const model = (
  extra: Record<string, string> = { run: 'run123', name: 'xor', step: '40' },
  pre: unknown = preprocessing,
) =>
  readModel(
    writeModel({ spec: parseSpec(XOR_SPEC), params: Float32Array.from(XOR_PARAMS), preprocessing: pre, extra }),
  );

describe('onnxExportInputs', () => {
  it('folds scale then standardize into x * mul + add (by hand: 0.5/std, -mean/std)', () => {
    const e = onnxExportInputs(model(), { nnqVersion: '1.2.3' });
    // x' = (0.5 x - mean) / std: mul = [0.5/2, 0.5/4], add = [-1/2, -2/4]
    expect([...e.preprocess.mul]).toEqual([0.25, 0.125]);
    expect([...e.preprocess.add]).toEqual([-0.5, -0.5]);
    expect(e.params).toEqual(Float32Array.from(XOR_PARAMS));
  });

  it('labels the model: version, run, name, step, spec, preprocessing and classes as metadata', () => {
    const e = onnxExportInputs(model(), { nnqVersion: '1.2.3' });
    expect(e.metadata).toEqual({
      nnq_version: '1.2.3',
      nnq_run_id: 'run123',
      nnq_name: 'xor',
      nnq_step: '40',
      nnq_spec: JSON.stringify(parseSpec(XOR_SPEC)),
      nnq_preprocessing: JSON.stringify(preprocessing),
      nnq_classes: '["no","yes"]',
    });
    expect(e.docString).toBe('nnq network xor (run run123), nnq 1.2.3');
    expect(e.inputDoc).toMatch(/^raw features \[batch, 2\] \(float32\).*preprocessing \(scale then standardize\)/);
    expect(e.outputDoc).toBe(
      'h(L) [batch, 1] (float32), the identity output layer: the probability of class "yes" (classes "no", "yes")',
    );
    // a run id given by the caller (the coordinator's) wins over the file's
    expect(onnxExportInputs(model(), { nnqVersion: '1', runId: 'other' }).metadata.nnq_run_id).toBe('other');
  });

  it('without preprocessing or extras: the identity map, and only what is known', () => {
    const e = onnxExportInputs(model({}, null), { nnqVersion: '1.2.3' });
    expect([...e.preprocess.mul, ...e.preprocess.add]).toEqual([1, 1, 0, 0]);
    expect(Object.keys(e.metadata)).toEqual(['nnq_version', 'nnq_spec', 'nnq_preprocessing']);
    expect(e.metadata.nnq_preprocessing).toBe('null');
    expect(e.inputDoc).toMatch(/preprocessing \(none\)/);
    expect(e.outputDoc).toBe('h(L) [batch, 1] (float32), the identity output layer: the predicted values');
  });
});

describe('kerasWeights', () => {
  it("names the lecture's weights as Keras does: dense_n/kernel [fanIn, units], dense_n/bias [units]", () => {
    const k = kerasWeights(model());
    expect(k.weights).toEqual([
      {
        name: 'dense_1/kernel',
        shape: [2, 2],
        values: [
          [1, 1],
          [1, 1],
        ],
      },
      { name: 'dense_1/bias', shape: [2], values: [0, -1] },
      { name: 'dense_2/kernel', shape: [2, 1], values: [[1], [-2]] },
      { name: 'dense_2/bias', shape: [1], values: [0] },
    ]);
    expect(k.format).toBe('nnq-keras-weights-1');
    expect(k.preprocessing).toEqual(preprocessing);
  });

  it('names a conv layer conv2d_n, its kernel [kh, kw, cin, filters] as Keras holds it; flatten has none', () => {
    const spec = parseSpec({
      inputShape: [3, 3, 1],
      layers: [
        { kind: 'conv2d', filters: 2, kernelSize: 2, activation: 'relu' },
        { kind: 'flatten' },
        { units: 1, activation: 'identity' },
      ],
      loss: 'sum_of_squares',
    });
    const params = Float32Array.from({ length: 19 }, (_, i) => i + 1);
    const k = kerasWeights(readModel(writeModel({ spec, params })));
    expect(k.weights.map((w) => [w.name, w.shape])).toEqual([
      ['conv2d_1/kernel', [2, 2, 1, 2]],
      ['conv2d_1/bias', [2]],
      ['dense_3/kernel', [8, 1]],
      ['dense_3/bias', [1]],
    ]);
    // row (dy * kw + dx) * cin + ci of the stored [kh * kw * cin, filters] kernel is [dy][dx][ci]
    expect(k.weights[0].values).toEqual([
      [[[1, 2]], [[3, 4]]],
      [[[5, 6]], [[7, 8]]],
    ]);
    expect(k.weights[1].values).toEqual([9, 10]);
  });
});

import { parsePreprocessing, toAffine, type Preprocessing } from '@nnq/data';
import { forward, type NetworkSpec } from '@nnq/nn';
import { type Prediction } from '@nnq/protocol';
import { predictBudgetProblem } from './memory-budget';

/** The request and answer of POST /runs/:id/predict are the HTTP contract's (@nnq/protocol api). */
export { PredictRequestSchema, type Prediction } from '@nnq/protocol';

export interface PredictModel {
  spec: NetworkSpec;
  params: Float32Array;
  preprocessing: unknown;
}

/**
 * Predict raw rows: the recorded preprocessing (x * mul + add in float32, as in training), then the
 * libs/nn forward pass. Throws RangeError naming the row of a wrong-width input.
 */
export function predictRows(model: PredictModel, inputs: number[][]): Prediction {
  // refused before the forward pass allocates its workspaces (memory-budget.ts)
  const overBudget = predictBudgetProblem(model.spec, inputs.length);
  if (overBudget) throw new RangeError(overBudget);
  const pre = preprocessingOf(model);
  const x = preprocessRows(model, inputs);
  const out = forward(model.spec, model.params, x, inputs.length);
  const K = out.length / inputs.length;
  const outputs = inputs.map((_, r) => Array.from(out.subarray(r * K, (r + 1) * K)));
  const classes = pre?.target?.type === 'onehot' ? pre.target.classes : undefined;
  if (!classes) return { outputs };
  const labels = outputs.map((o) => {
    if (K === 1) return classes[o[0] >= 0.5 ? 1 : 0] ?? String(o[0] >= 0.5 ? 1 : 0);
    let best = 0;
    for (let k = 1; k < K; k++) if (o[k] > o[best]) best = k;
    return classes[best];
  });
  return { outputs, labels };
}

function preprocessingOf(model: PredictModel): Preprocessing | undefined {
  return model.preprocessing ? parsePreprocessing(model.preprocessing) : undefined;
}

/**
 * The network's input rows [rows, inputSize] of raw rows: the recorded preprocessing, x * mul + add
 * in float32 as in training. Throws RangeError naming the row of a wrong-width input.
 */
export function preprocessRows(model: PredictModel, inputs: number[][]): Float32Array {
  const F = model.spec.inputSize;
  const { mul, add } = toAffine(preprocessingOf(model), F);
  const x = new Float32Array(inputs.length * F);
  inputs.forEach((row, r) => {
    if (row.length !== F) throw new RangeError(`inputs[${r}]: has ${row.length} values, the model takes ${F}`);
    for (let j = 0; j < F; j++) x[r * F + j] = Math.fround(Math.fround(row[j] * mul[j]) + add[j]);
  });
  return x;
}

import { forwardTrace, paramLayout } from '@nnq/nn';
import { preprocessRows, type Prediction, type PredictModel } from '@nnq/training';
import { fmt } from './lecture/options';

/**
 * `nnq predict --layers`: every layer's values for each input row, in the lecture's notation,
 *   row 1: x = [0, 1]
 *     layer 1 relu      a = [1, 0]  h = [1, 0]
 *     layer 2 identity  a = [1]  h = [1]
 *     output [1]
 * where a(n) = x(n) W(n) + b(n) and h(n) = f(a(n)); x is the network's input (after the model's
 * preprocessing, shown when it changes the row). Values to 6 significant digits.
 */
export function formatLayerTrace(model: PredictModel, inputs: number[][], prediction: Prediction): string {
  const x = preprocessRows(model, inputs);
  const trace = forwardTrace(model.spec, model.params, x, inputs.length);
  const F = model.spec.inputSize;
  const { widths } = paramLayout(model.spec);
  const names = model.spec.layers.map(layerLabel);
  const nameWidth = Math.max(...names.map((l) => l.length));
  const vec = (v: ArrayLike<number>) => `[${Array.from(v, (n) => fmt(n)).join(', ')}]`;
  const lines: string[] = [];
  inputs.forEach((row, r) => {
    const net = x.subarray(r * F, (r + 1) * F);
    const changed = row.some((v, j) => Math.fround(v) !== net[j]);
    lines.push(`row ${r}: x = ${vec(row)}${changed ? `  (preprocessed: ${vec(net)})` : ''}`);
    names.forEach((name, i) => {
      const n = i + 1;
      const at = (m: Float64Array) => m.subarray(r * widths[n], (r + 1) * widths[n]);
      lines.push(`  layer ${n} ${name.padEnd(nameWidth)}  a = ${vec(at(trace.a[n]))}  h = ${vec(at(trace.h[n]))}`);
    });
    const label = prediction.labels ? `  label ${prediction.labels[r]}` : '';
    lines.push(`  output ${vec(prediction.outputs[r])}${label}`);
  });
  return lines.join('\n');
}

/** A layer's activation (or its kind, for a layer without one). */
export function layerLabel(layer: object): string {
  const l = layer as { activation?: string; kind?: string };
  return l.activation ?? l.kind ?? 'layer';
}

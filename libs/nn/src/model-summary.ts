import { paramLayout } from './layout';
import { layerKind, type LayerKind, type NetworkSpec } from './spec';

/** One row of a model summary, as Keras prints it: layer, output shape, parameters. */
export interface LayerSummary {
  /** n: 0 for the input, then 1..L. */
  readonly index: number;
  readonly kind: LayerKind | 'input';
  /** [height, width, channels] or [units], per sample. */
  readonly outputShape: number[];
  /** Kernel and bias values of the layer. */
  readonly params: number;
}

/** The input and every layer with its output shape and parameter count (Keras' model.summary()). */
export function modelSummary(spec: NetworkSpec): LayerSummary[] {
  const layout = paramLayout(spec);
  return [
    { index: 0, kind: 'input', outputShape: [...layout.shapes[0]], params: 0 },
    ...layout.layers.map((l) => ({
      index: l.index,
      kind: layerKind(spec.layers[l.index - 1]),
      outputShape: [...layout.shapes[l.index]],
      params: l.kernelSize + l.biasSize,
    })),
  ];
}

import type { NetworkSpec } from './spec';

/**
 * The flat parameter layout: the wire format of the cluster.
 *
 * All parameters live in one Float32Array. For dense layers n = 1..L in order it holds
 *   kernel W(n): fanIn x units, row-major (W[i][k] at kernelOffset + i * units + k),
 *   bias   b(n): units (only when useBias).
 * fanIn is units(n-1), plus units(from) when a concat skip ends at layer n.
 * Gradients use the same layout. Changing this breaks every stored model and running cluster.
 */
export interface LayerLayout {
  /** Dense layer index n (1-based, as in the lecture). */
  readonly index: number;
  readonly fanIn: number;
  readonly units: number;
  readonly kernelOffset: number;
  readonly kernelSize: number;
  /** -1 when the layer has no bias. */
  readonly biasOffset: number;
  readonly biasSize: number;
  /** Skip connection ending at this layer, if any. */
  readonly skip?: { readonly from: number; readonly mode: 'concat' | 'add' };
}

export interface ParamLayout {
  readonly layers: readonly LayerLayout[];
  /** Total number of parameters. */
  readonly size: number;
  /** Sizes of h(0)..h(L). */
  readonly widths: readonly number[];
}

export function paramLayout(spec: NetworkSpec): ParamLayout {
  const widths = [spec.inputSize, ...spec.layers.map((l) => l.units)];
  const layers: LayerLayout[] = [];
  let offset = 0;
  spec.layers.forEach((layer, k) => {
    const n = k + 1;
    const s = spec.skips.find((sk) => sk.to === n);
    const fanIn = widths[n - 1] + (s && s.mode === 'concat' ? widths[s.from] : 0);
    const kernelOffset = offset;
    const kernelSize = fanIn * layer.units;
    offset += kernelSize;
    const biasOffset = layer.useBias ? offset : -1;
    const biasSize = layer.useBias ? layer.units : 0;
    offset += biasSize;
    layers.push({
      index: n,
      fanIn,
      units: layer.units,
      kernelOffset,
      kernelSize,
      biasOffset,
      biasSize,
      skip: s ? { from: s.from, mode: s.mode } : undefined,
    });
  });
  return { layers, size: offset, widths };
}

/** Per-layer views into a flat vector (no copies). */
export function layerViews<T extends Float32Array | Float64Array>(
  layout: ParamLayout,
  flat: T,
): { kernel: T; bias: T | null }[] {
  if (flat.length !== layout.size) {
    throw new RangeError(`parameter vector has ${flat.length} values, the layout needs ${layout.size}`);
  }
  return layout.layers.map((l) => ({
    kernel: flat.subarray(l.kernelOffset, l.kernelOffset + l.kernelSize) as T,
    bias: l.biasOffset >= 0 ? (flat.subarray(l.biasOffset, l.biasOffset + l.biasSize) as T) : null,
  }));
}

/**
 * Mask in the flat layout: 1 where a parameter is trainable, 0 where a connection was removed.
 * Biases are always 1. Returns null when no layer has a mask.
 */
export function flatMask(spec: NetworkSpec, layout: ParamLayout = paramLayout(spec)): Float32Array | null {
  if (!spec.layers.some((l) => l.mask)) return null;
  const m = new Float32Array(layout.size).fill(1);
  spec.layers.forEach((layer, k) => {
    if (!layer.mask) return;
    const l = layout.layers[k];
    for (let i = 0; i < l.fanIn; i++) {
      for (let j = 0; j < l.units; j++) m[l.kernelOffset + i * l.units + j] = layer.mask[i][j];
    }
  });
  return m;
}

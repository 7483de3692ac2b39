import { inferShapes } from './layer-shapes';
import { shapeSize, type Shape, type Window2d } from './shapes';
import { isDense, SpecError, type LayerKind, type NetworkSpec } from './spec';

/**
 * The flat parameter layout: the wire format of the cluster.
 *
 * All parameters live in one Float32Array. For layers n = 1..L in order it holds
 *   kernel W(n): fanIn x units, row-major (W[i][k] at kernelOffset + i * units + k),
 *   bias   b(n): units (only when useBias).
 * Dense: fanIn is units(n-1), plus units(from) when a concat skip ends at layer n.
 * conv2d: the kernel [kh, kw, cin, filters] (Keras HWIO) row-major, which is a dense kernel of
 * fanIn = kh * kw * cin rows (row (dy * kw + dx) * cin + ci) and units = filters columns.
 * Pooling and flatten layers hold no parameters (kernelSize 0, biasOffset -1).
 * Gradients use the same layout. Changing this breaks every stored model and running cluster.
 */
export interface LayerLayout {
  /** Layer index n (1-based, as in the lecture; pooling and flatten layers count too). */
  readonly index: number;
  /** dense, conv2d, maxPool2d, avgPool2d or flatten. */
  readonly kind: LayerKind;
  /** Kernel rows: dense fanIn, conv kh * kw * cin (row (dy * kw + dx) * cin + ci); 0 without parameters. */
  readonly fanIn: number;
  /** Kernel columns: dense units, conv filters; for pooling the channels, for flatten the width. */
  readonly units: number;
  readonly kernelOffset: number;
  /** fanIn x units; 0 for pooling and flatten. */
  readonly kernelSize: number;
  /** -1 when the layer has no bias. */
  readonly biasOffset: number;
  readonly biasSize: number;
  /** Skip connection ending at this layer, if any. */
  readonly skip?: { readonly from: number; readonly mode: 'concat' | 'add' };
  /** The window of a conv or pooling layer on its input (shapes.ts). */
  readonly window?: Window2d;
}

export interface ParamLayout {
  readonly layers: readonly LayerLayout[];
  /** Total number of parameters. */
  readonly size: number;
  /** Flat sizes of h(0)..h(L) per sample. */
  readonly widths: readonly number[];
  /** Shapes of h(0)..h(L): [height, width, channels] or [units]. */
  readonly shapes: readonly Shape[];
}

export function paramLayout(spec: NetworkSpec): ParamLayout {
  const input: Shape = spec.inputShape ?? [spec.inputSize];
  const inferred = inferShapes(input, spec.layers, spec.skips);
  if (inferred.problems.length > 0) {
    // parseSpec refuses such a spec; a spec built by hand gets the same words
    throw new SpecError(inferred.problems.map((p) => `${formatPath(p.path)}: ${p.message}`));
  }
  const layers: LayerLayout[] = [];
  let offset = 0;
  inferred.layers.forEach((g, k) => {
    const n = k + 1;
    const layer = spec.layers[k];
    const s = spec.skips.find((sk) => sk.to === n);
    const useBias = 'useBias' in layer && layer.useBias;
    const kernelOffset = offset;
    const kernelSize = g.fanIn * (g.kind === 'dense' || g.kind === 'conv2d' ? g.units : 0);
    offset += kernelSize;
    const biasOffset = useBias ? offset : -1;
    const biasSize = useBias ? g.units : 0;
    offset += biasSize;
    layers.push({
      index: n,
      kind: g.kind,
      fanIn: g.fanIn,
      units: g.units,
      kernelOffset,
      kernelSize,
      biasOffset,
      biasSize,
      skip: s ? { from: s.from, mode: s.mode } : undefined,
      window: g.window,
    });
  });
  return { layers, size: offset, widths: inferred.shapes.map(shapeSize), shapes: inferred.shapes };
}

/** `layers[2].kernelSize` from ['layers', 2, 'kernelSize']. */
function formatPath(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
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
  if (!spec.layers.some((l) => isDense(l) && l.mask)) return null;
  const m = new Float32Array(layout.size).fill(1);
  spec.layers.forEach((layer, k) => {
    if (!isDense(layer) || !layer.mask) return;
    const mask = layer.mask;
    const l = layout.layers[k];
    for (let i = 0; i < l.fanIn; i++) {
      for (let j = 0; j < l.units; j++) m[l.kernelOffset + i * l.units + j] = mask[i][j];
    }
  });
  return m;
}

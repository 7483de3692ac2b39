import { convBackward, convForward } from './conv';
import type { LayerLayout, ParamLayout } from './layout';
import { avgPoolBackward, avgPoolForward, maxPoolBackward, maxPoolForward } from './pool';

/**
 * The conv2d, pooling and flatten steps of the reference network (network.ts): a(n) from x(n)
 * forward, and backward the parameters' gradient and dJ/dx(n) from delta(n).
 */

/** Workspaces the spatial layers share: one sample's im2col matrix (and its gradient), arg-maxes. */
export interface SpatialWorkspace {
  readonly cols: Float64Array;
  readonly dcols: Float64Array;
  /** Per max-pool layer n: the input index of each output cell's first maximum (batch cells). */
  argmax: Int32Array[];
}

/** Workspaces sized for the largest conv layer of a layout. */
export function spatialWorkspace(layout: ParamLayout): SpatialWorkspace {
  const size = Math.max(0, ...layout.layers.map((l) => (l.window && l.kind === 'conv2d' ? colsSize(l) : 0)));
  return { cols: new Float64Array(size), dcols: new Float64Array(size), argmax: [] };
}

/** Arg-max buffers for `batch` samples. */
export function reserveArgmax(ws: SpatialWorkspace, layout: ParamLayout, batch: number): void {
  ws.argmax = layout.widths.map((w, n) => new Int32Array(layout.layers[n - 1]?.kind === 'maxPool2d' ? batch * w : 0));
}

/** Values of one sample's im2col matrix of a conv layer: outH * outW rows of fanIn. */
function colsSize(l: LayerLayout): number {
  return l.window!.outH * l.window!.outW * l.fanIn;
}

/** a(n) of a conv (x W + b, im2col), pooling (max or mean per window) or flatten (x itself) layer. */
export function forwardSpatial(
  l: LayerLayout,
  x: Float64Array,
  a: Float64Array,
  batch: number,
  params: Float64Array,
  ws: SpatialWorkspace,
): void {
  switch (l.kind) {
    case 'conv2d': {
      const kernel = params.subarray(l.kernelOffset, l.kernelOffset + l.kernelSize);
      const bias = l.biasOffset >= 0 ? params.subarray(l.biasOffset, l.biasOffset + l.biasSize) : null;
      convForward(x, batch, l.window!, kernel, bias, a, ws.cols);
      return;
    }
    case 'maxPool2d':
      maxPoolForward(x, batch, l.window!, a, ws.argmax[l.index]);
      return;
    case 'avgPool2d':
      avgPoolForward(x, batch, l.window!, a);
      return;
    case 'flatten':
      // NHWC flattened is the stored order already (a flatten layer's units are its width)
      a.set(x.subarray(0, batch * l.units));
      return;
    case 'dense':
      throw new RangeError(`layer ${l.index} is dense, not spatial`);
  }
}

/**
 * Backward of a conv, pooling or flatten layer given delta(n): adds its parameters' gradient into
 * grad and, when dX is given, dJ/dx(n) into dX.
 */
export function backwardSpatial(
  l: LayerLayout,
  x: Float64Array,
  delta: Float64Array,
  dX: Float64Array | null,
  batch: number,
  params: Float64Array,
  grad: Float64Array,
  ws: SpatialWorkspace,
): void {
  switch (l.kind) {
    case 'conv2d': {
      const kernel = params.subarray(l.kernelOffset, l.kernelOffset + l.kernelSize);
      const gKernel = grad.subarray(l.kernelOffset, l.kernelOffset + l.kernelSize);
      const gBias = l.biasOffset >= 0 ? grad.subarray(l.biasOffset, l.biasOffset + l.biasSize) : null;
      convBackward(x, delta, batch, l.window!, kernel, gKernel, gBias, dX, ws.cols, ws.dcols);
      return;
    }
    case 'maxPool2d': {
      const w = l.window!;
      if (dX) maxPoolBackward(delta, batch * w.outH * w.outW * w.outC, ws.argmax[l.index], dX);
      return;
    }
    case 'avgPool2d':
      if (dX) avgPoolBackward(delta, batch, l.window!, dX);
      return;
    case 'flatten': {
      // h(n) is x(n) in the same order: dJ/dx = dJ/dh
      if (!dX) return;
      const count = batch * l.units;
      for (let i = 0; i < count; i++) dX[i] += delta[i];
      return;
    }
    case 'dense':
      throw new RangeError(`layer ${l.index} is dense, not spatial`);
  }
}

import { convBackward, convForward } from '../conv';
import type { LayerLayout } from '../layout';
import { avgPoolForward } from '../pool';
import { backwardSpatial, type SpatialWorkspace } from '../spatial-layers';

/**
 * The R-operator through the conv2d, pooling and flatten layers of network.ts (spatial-layers.ts),
 * built from their own linear pieces: a conv is a dense layer on im2col rows, pooling and flatten
 * are linear in x at a fixed point (max pooling keeps the point's arg-maxes).
 *   conv     R a = conv(R x, W) + conv(x, V) + Vb
 *            (H v)_W = cols(R x)^T delta + cols(x)^T R delta,  (H v)_b = sum over cells of R delta
 *            R dJ/dx = col2im(R delta W^T + delta V^T)
 *   maxPool  R a_o = R x_{argmax o};   R dJ/dx routes R delta to the same arg-maxes
 *   avgPool  R a = avgPool(R x);       R dJ/dx = the average pooling's transpose of R delta
 *   flatten  R a = R x;                R dJ/dx = R delta
 */

/** R a(n) of a spatial layer from R x(n); `tmp` holds a batch of a(n) (conv only). */
export function rForwardSpatial(
  l: LayerLayout,
  x: Float64Array,
  rx: Float64Array,
  ra: Float64Array,
  batch: number,
  w: Float64Array,
  v: Float64Array,
  ws: SpatialWorkspace,
  tmp: Float64Array,
): void {
  const count = batch * (l.window ? l.window.outH * l.window.outW * l.window.outC : l.units);
  switch (l.kind) {
    case 'conv2d': {
      const part = (p: Float64Array) => p.subarray(l.kernelOffset, l.kernelOffset + l.kernelSize);
      const vb = l.biasOffset >= 0 ? v.subarray(l.biasOffset, l.biasOffset + l.biasSize) : null;
      convForward(x, batch, l.window!, part(v), vb, ra, ws.cols); // conv(x, V) + Vb
      convForward(rx, batch, l.window!, part(w), null, tmp, ws.cols); // conv(R x, W)
      for (let i = 0; i < count; i++) ra[i] += tmp[i];
      return;
    }
    case 'maxPool2d': {
      const am = ws.argmax[l.index];
      for (let i = 0; i < count; i++) ra[i] = rx[am[i]];
      return;
    }
    case 'avgPool2d':
      avgPoolForward(rx, batch, l.window!, ra);
      return;
    case 'flatten':
      ra.set(rx.subarray(0, count));
      return;
    case 'dense':
      throw new RangeError(`layer ${l.index} is dense, not spatial`);
  }
}

/**
 * The R-pass of a spatial layer's backward: (H v) of its parameters into hv and R dJ/dx(n) into
 * rdX (when given), from delta(n) and R delta(n).
 */
export function rBackwardSpatial(
  l: LayerLayout,
  x: Float64Array,
  rx: Float64Array,
  delta: Float64Array,
  rdelta: Float64Array,
  rdX: Float64Array | null,
  batch: number,
  w: Float64Array,
  v: Float64Array,
  hv: Float64Array,
  ws: SpatialWorkspace,
): void {
  if (l.kind !== 'conv2d') {
    // linear in x at the point: the same map as the backward, applied to R delta
    backwardSpatial(l, x, rdelta, rdX, batch, w, hv, ws);
    return;
  }
  const part = (p: Float64Array) => p.subarray(l.kernelOffset, l.kernelOffset + l.kernelSize);
  const hvBias = l.biasOffset >= 0 ? hv.subarray(l.biasOffset, l.biasOffset + l.biasSize) : null;
  // cols(x)^T R delta, sum of R delta, R delta W^T
  convBackward(x, rdelta, batch, l.window!, part(w), part(hv), hvBias, rdX, ws.cols, ws.dcols);
  // cols(R x)^T delta, delta V^T
  convBackward(rx, delta, batch, l.window!, part(v), part(hv), null, rdX, ws.cols, ws.dcols);
}

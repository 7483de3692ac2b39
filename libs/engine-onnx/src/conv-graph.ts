import type { Window2d } from '@nnq/nn';
import type { AttrValue, GraphBuilder } from './graph';

/**
 * Conv2D and pooling layers as standard ONNX ops, forward and backward, on NCHW values.
 *
 * onnxruntime's Conv, ConvTranspose and pooling kernels take NCHW; the network's activations are
 * NHWC (libs/nn's flat layout), so a run of 3-D layers keeps its values NCHW inside the graph and
 * converts at its ends (the input, flatten) with one Transpose each. Kernels stay HWIO
 * ([kh * kw * cin, filters], the flat layout) on the wire and are transposed to OIHW in the graph.
 *
 * A convolution is a dense layer with most connections removed and the rest sharing weights
 * (libs/nn), so the backward pass is the dense delta recursion summed over every place a shared
 * weight is used:
 *   dJ/dW[dy, dx, c, f] = sum over samples and output cells of delta_f x_c at the cell tap (dy, dx)
 *     reads: a Conv of the input with the delta as its kernel (samples as channels, the forward
 *     strides as dilations), transposed back to HWIO;
 *   dJ/db_f = the sum of delta_f over samples and cells (ReduceSum);
 *   dJ/dx = ConvTranspose of the delta with the same kernel (the transposed sparse matrix).
 * Max pooling routes each delta to the first arg-max of its window: onnxruntime's MaxPool Indices
 * keep the first maximum in row-major window order (a strict > scan; libs/nn's rule), padded cells
 * never win; MaxUnpool puts each delta there (ScatterElements adds them up where windows overlap).
 * Average pooling spreads delta / (valid cells) over each window's valid cells (Keras'
 * count_include_pad = 0): a ConvTranspose with a ones kernel per channel (group = channels).
 */

/** [height, width, channels] of a 3-D value. */
export type Hwc = readonly [number, number, number];

/** NHWC flat [batch, h * w * c] -> NCHW [batch, c, h, w]. */
export function toNchw(g: GraphBuilder, flat: string, [h, w, c]: Hwc): string {
  return g.op('Transpose', [g.op('Reshape', [flat, g.int64s([-1, h, w, c])])], { perm: [0, 3, 1, 2] });
}

/** NCHW [batch, c, h, w] -> NHWC flat [batch, h * w * c]. */
export function toFlat(g: GraphBuilder, nchw: string, [h, w, c]: Hwc): string {
  return g.op('Reshape', [g.op('Transpose', [nchw], { perm: [0, 2, 3, 1] }), g.int64s([-1, h * w * c])]);
}

/** Rows and columns of padding after the last cell that the windows read (0 for valid). */
function padAfter(w: Window2d): [number, number] {
  return [
    Math.max((w.outH - 1) * w.sh + w.kh - w.inH - w.padTop, 0),
    Math.max((w.outW - 1) * w.sw + w.kw - w.inW - w.padLeft, 0),
  ];
}

/** kernel_shape, strides and pads [top, left, bottom, right] of a window. */
function windowAttrs(w: Window2d): Record<string, AttrValue> {
  const [bottom, right] = padAfter(w);
  return { kernel_shape: [w.kh, w.kw], strides: [w.sh, w.sw], pads: [w.padTop, w.padLeft, bottom, right] };
}

/**
 * ConvTranspose attributes that give back the window's input size exactly: the rows a valid
 * window never reads (when in - k is not a multiple of the stride) are output padding.
 */
export function transposeAttrs(w: Window2d): Record<string, AttrValue> {
  const [bottom, right] = padAfter(w);
  const extraH = w.inH - ((w.outH - 1) * w.sh + w.kh - w.padTop - bottom);
  const extraW = w.inW - ((w.outW - 1) * w.sw + w.kw - w.padLeft - right);
  return { ...windowAttrs(w), output_padding: [extraH, extraW] };
}

/** A layer's backward step: emits its parameter gradients, returns dJ/dx (NCHW) when asked for. */
export type LayerBackward = (delta: string, needInput: boolean) => string | null;

export interface EmittedConv {
  /** a = conv(x, W) + b, NCHW [batch, filters, outH, outW]. */
  readonly a: string;
  readonly backward: LayerBackward;
}

/**
 * A conv layer on x (NCHW) with the HWIO kernel [kh * kw * cin, filters] and bias [filters];
 * its backward step writes the gradients to the graph values `names.kernel` and `names.bias`.
 */
export function emitConv(
  g: GraphBuilder,
  x: string,
  kernel: string,
  bias: string | null,
  w: Window2d,
  names: { kernel: string; bias: string | null },
): EmittedConv {
  const hwio = g.op('Reshape', [kernel, g.int64s([w.kh, w.kw, w.inC, w.outC])]);
  const oihw = g.op('Transpose', [hwio], { perm: [3, 2, 0, 1] });
  const a = g.op('Conv', bias ? [x, oihw, bias] : [x, oihw], windowAttrs(w));
  return {
    a,
    backward: (delta, needInput) => {
      // samples as channels: [cin, batch, H, W] conv [filters, batch, outH, outW] -> [cin, filters, kh', kw']
      const xT = g.op('Transpose', [x], { perm: [1, 0, 2, 3] });
      const dT = g.op('Transpose', [delta], { perm: [1, 0, 2, 3] });
      const [bottom, right] = padAfter(w);
      let gw = g.op('Conv', [xT, dT], { pads: [w.padTop, w.padLeft, bottom, right], dilations: [w.sh, w.sw] });
      // kh' exceeds kh where a valid window leaves rows unread: taps that do not exist
      const khAll = w.inH + w.padTop + bottom - (w.outH - 1) * w.sh;
      const kwAll = w.inW + w.padLeft + right - (w.outW - 1) * w.sw;
      if (khAll !== w.kh || kwAll !== w.kw) {
        gw = g.op('Slice', [gw, g.int64s([0, 0]), g.int64s([w.kh, w.kw]), g.int64s([2, 3])]);
      }
      const back = g.op('Transpose', [gw], { perm: [2, 3, 0, 1] });
      g.op('Reshape', [back, g.int64s([w.kh * w.kw * w.inC, w.outC])], {}, names.kernel);
      if (names.bias) g.op('ReduceSum', [delta, g.int64s([0, 2, 3])], { keepdims: 0 }, names.bias);
      return needInput ? g.op('ConvTranspose', [delta, oihw], transposeAttrs(w)) : null;
    },
  };
}

export interface EmittedPool {
  /** The pooled value, NCHW [batch, c, outH, outW]. */
  readonly h: string;
  readonly backward: LayerBackward;
  /** Max pooling in a training graph: the arg-max of each window, an index into the NCHW input flat. */
  readonly indices?: string;
}

/**
 * Max pooling. `batch` is the fixed batch size of a training graph: the Indices output (emitted
 * only then: onnxruntime's MaxPool is faster without) indexes the NCHW input flat, samples and
 * channels included; null for inference.
 */
export function emitMaxPool(g: GraphBuilder, x: string, w: Window2d, batch: number | null): EmittedPool {
  const attrs = windowAttrs(w);
  if (batch === null) return { h: g.op('MaxPool', [x], attrs), backward: noBackward };
  const h = g.fresh('MaxPool');
  const [, indices] = g.opMulti('MaxPool', [x], [h, `${h}_indices`], attrs);
  return {
    h,
    indices,
    backward: (delta, needInput) => {
      if (!needInput) return null;
      const shape = [batch, w.inC, w.inH, w.inW];
      // windows that do not overlap: each input cell takes at most one delta, MaxUnpool puts it there
      if (w.sh >= w.kh && w.sw >= w.kw) return g.op('MaxUnpool', [delta, indices, g.int64s(shape)], attrs);
      const zeros = g.op('ConstantOfShape', [g.int64s([batch * w.inC * w.inH * w.inW])]);
      const flat = (v: string) => g.op('Reshape', [v, g.int64s([-1])]);
      const dx = g.op('ScatterElements', [zeros, flat(indices), flat(delta)], { axis: 0, reduction: 'add' });
      return g.op('Reshape', [dx, g.int64s(shape)]);
    },
  };
}

/** Average pooling over the valid cells of each window (count_include_pad = 0, as Keras). */
export function emitAvgPool(g: GraphBuilder, x: string, w: Window2d): EmittedPool {
  const h = g.op('AveragePool', [x], { ...windowAttrs(w), count_include_pad: 0 });
  return {
    h,
    backward: (delta, needInput) => {
      if (!needInput) return null;
      const per = g.op('Div', [delta, validCells(g, w)]);
      const dims = [w.inC, 1, w.kh, w.kw];
      const ones = g.initializer(g.fresh('ones_window'), new Float32Array(w.inC * w.kh * w.kw).fill(1), dims);
      return g.op('ConvTranspose', [per, ones], { ...transposeAttrs(w), group: w.inC });
    },
  };
}

/** [outH, outW]: how many unpadded input cells each window covers. */
function validCells(g: GraphBuilder, w: Window2d): string {
  const axis = (out: number, s: number, k: number, before: number, n: number) =>
    Array.from({ length: out }, (_, o) => Math.min(o * s - before + k, n) - Math.max(o * s - before, 0));
  const rows = axis(w.outH, w.sh, w.kh, w.padTop, w.inH);
  const cols = axis(w.outW, w.sw, w.kw, w.padLeft, w.inW);
  const count = Float32Array.from(
    { length: w.outH * w.outW },
    (_, i) => rows[Math.floor(i / w.outW)] * cols[i % w.outW],
  );
  return g.initializer(g.fresh('valid_cells'), count, [w.outH, w.outW]);
}

function noBackward(): string {
  throw new Error('engine-onnx: this pooling layer was built without its backward pass');
}

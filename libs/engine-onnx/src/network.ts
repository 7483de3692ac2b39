import { isDense, type LayerLayout, type NetworkSpec, type ParamLayout, type Shape, type Window2d } from '@nnq/nn';
import { emitActivation, type EmittedActivation } from './activations';
import { emitAvgPool, emitConv, emitMaxPool, toNchw, toFlat, type Hwc, type LayerBackward } from './conv-graph';
import type { GraphBuilder } from './graph';

/**
 * A value of the graph: flat ([batch, width], NHWC order for a 3-D shape, as libs/nn stores it)
 * or NCHW ([batch, c, h, w], inside a run of conv and pooling layers: conv-graph.ts).
 */
export interface Value {
  readonly name: string;
  readonly nchw: boolean;
}

/** Names of the per-layer values the forward pass produced (index n = 1..L; index 0 unused except h). */
export interface EmittedForward {
  /** x(n): the layer input (h(n-1), or with its skip concatenated / added). */
  readonly x: Value[];
  /** a(n) = x(n) W(n) + b(n) (dense), conv(x(n), W(n)) + b(n) (conv2d, NCHW); '' for other kinds. */
  readonly a: string[];
  /** h(n) = f(a(n)); h[0] is the network input. */
  readonly h: Value[];
  /** f of each layer (identity for pooling and flatten layers). */
  readonly act: EmittedActivation[];
  /** Effective kernels W(n) * mask(n) of dense layers; '' for other kinds. */
  readonly kernel: string[];
  /** The backward step of each conv and pooling layer (parameter gradients, dJ/dx), null for others. */
  readonly backward: (LayerBackward | null)[];
  /** Layout conversions, cached: a value converted twice is converted once. */
  readonly convert: Converter;
}

/** Where the parameters of layer n come from: graph inputs or initializers, already masked or not. */
export interface ParamSource {
  kernel(n: number): string;
  bias(n: number): string | null;
}

/** Flat <-> NCHW conversions of values, each made once per value. */
export class Converter {
  private readonly cache = new Map<string, string>();

  constructor(private readonly g: GraphBuilder) {}

  flat(v: Value, shape: Shape): string {
    return v.nchw ? this.memo(`flat:${v.name}`, () => toFlat(this.g, v.name, shape as Hwc)) : v.name;
  }

  nchw(v: Value, shape: Shape): string {
    return v.nchw ? v.name : this.memo(`nchw:${v.name}`, () => toNchw(this.g, v.name, shape as Hwc));
  }

  /** v in the layout of `like`. */
  as(v: Value, like: Value, shape: Shape): string {
    return like.nchw ? this.nchw(v, shape) : this.flat(v, shape);
  }

  private memo(key: string, make: () => string): string {
    let name = this.cache.get(key);
    if (!name) this.cache.set(key, (name = make()));
    return name;
  }
}

/** The window of conv or pooling layer n (the layout computes it). */
function windowOf(l: LayerLayout): Window2d {
  if (!l.window) throw new RangeError(`layer ${l.index} (${l.kind}) has no window in the layout`);
  return l.window;
}

/**
 * Layers 1..L: x(n) = h(n-1) (or [h(n-1), h(from)] / h(n-1) + h(from) where a skip ends);
 * dense a(n) = x(n) W(n) + b(n) with W(n) [fanIn, units]; conv2d a(n) = conv(x(n), W(n)) + b(n);
 * h(n) = f(a(n)); pooling and flatten layers have no parameters and no activation.
 * Conv layers name their gradients kernel_n_grad and bias_n_grad (emitted by their backward step).
 * `batch` is the fixed batch size of a training graph (max pooling then keeps its arg-max indices
 * for the backward pass), null for inference.
 */
export function emitForward(
  g: GraphBuilder,
  spec: NetworkSpec,
  layout: ParamLayout,
  input: string,
  params: ParamSource,
  batch: number | null = null,
): EmittedForward {
  const identity = (v: string): EmittedActivation => ({ h: v, backward: (d) => d });
  const convert = new Converter(g);
  const fwd: EmittedForward = {
    x: [{ name: '', nchw: false }],
    a: [''],
    h: [{ name: input, nchw: false }],
    act: [identity(input)],
    kernel: [''],
    backward: [null],
    convert,
  };
  const push = (a: string, h: Value, act: EmittedActivation, kernel: string, backward: LayerBackward | null) => {
    fwd.a.push(a);
    fwd.h.push(h);
    fwd.act.push(act);
    fwd.kernel.push(kernel);
    fwd.backward.push(backward);
  };
  const shapes = layout.shapes;
  for (const l of layout.layers) {
    const n = l.index;
    const layer = spec.layers[n - 1];
    const prev = fwd.h[n - 1];
    // x(n) in the layout the layer computes in: flat for dense, NCHW for conv and pooling
    const image = isDense(layer) ? false : layer.kind === 'flatten' ? prev.nchw : true;
    const inLayout = (v: Value) => (image ? convert.nchw(v, shapes[n - 1]) : convert.flat(v, shapes[n - 1]));
    let xn = inLayout(prev);
    if (l.skip?.mode === 'concat') {
      xn = g.op('Concat', [xn, convert.flat(fwd.h[l.skip.from], shapes[l.skip.from])], { axis: 1 });
    }
    if (l.skip?.mode === 'add') xn = g.op('Add', [xn, inLayout(fwd.h[l.skip.from])]);
    fwd.x.push({ name: xn, nchw: image });
    if (isDense(layer)) {
      const w = params.kernel(n);
      const b = params.bias(n);
      const an = b ? g.op('Gemm', [xn, w, b]) : g.op('MatMul', [xn, w]);
      const f = emitActivation(g, layer.activation, an, l.units);
      push(an, { name: f.h, nchw: false }, f, w, null);
    } else if (layer.kind === 'conv2d') {
      const bias = params.bias(n);
      const names = { kernel: `kernel_${n}_grad`, bias: bias ? `bias_${n}_grad` : null };
      const conv = emitConv(g, xn, params.kernel(n), bias, windowOf(l), names);
      // a relu the max pool after it takes over (reluIntoMaxPool): h(n) stays a(n) here
      const f = reluIntoMaxPool(spec, layout, n)
        ? identity(conv.a)
        : emitActivation(g, layer.activation, conv.a, l.units);
      push(conv.a, { name: f.h, nchw: true }, f, '', conv.backward);
    } else if (layer.kind === 'flatten') {
      const h = image ? convert.flat({ name: xn, nchw: true }, shapes[n - 1]) : xn;
      push('', { name: h, nchw: false }, identity(h), '', null);
    } else {
      const pool =
        layer.kind === 'maxPool2d' ? emitMaxPool(g, xn, windowOf(l), batch) : emitAvgPool(g, xn, windowOf(l));
      const f = n > 1 && reluIntoMaxPool(spec, layout, n - 1) ? emitActivation(g, 'relu', pool.h, 0) : identity(pool.h);
      push('', { name: f.h, nchw: true }, f, '', pool.backward);
    }
  }
  return fwd;
}

/**
 * Whether conv layer n's relu moves past the max pool after it: maxPool(relu(a)) = relu(maxPool(a))
 * exactly (relu keeps the order and maps a > 0 to itself), and the delta is the same too: where
 * the window's maximum is positive, its first arg-max is the same cell in a and relu(a) and
 * relu' = 1 there; where it is not, libs/nn's relu' zeroes the delta of whichever cell it routes
 * to and here relu'(max) does. The relu and its backward then run on the pooled value (a quarter
 * of the cells for a 2x2 pool). Only when nothing else reads h(n) (no skip from n, none into n + 1).
 */
function reluIntoMaxPool(spec: NetworkSpec, layout: ParamLayout, n: number): boolean {
  const layer = spec.layers[n - 1];
  const next = spec.layers[n];
  return (
    layer.kind === 'conv2d' &&
    layer.activation === 'relu' &&
    next?.kind === 'maxPool2d' &&
    !layout.layers[n].skip &&
    !spec.skips.some((s) => s.from === n)
  );
}

/** The mask of layer n as a flat [fanIn * units] Float32Array of 0/1, or null. */
export function maskOf(spec: NetworkSpec, n: number): Float32Array | null {
  const layer = spec.layers[n - 1];
  if (!isDense(layer) || !layer.mask) return null;
  const units = layer.units;
  const m = new Float32Array(layer.mask.length * units);
  layer.mask.forEach((row, i) => row.forEach((v, k) => (m[i * units + k] = v)));
  return m;
}

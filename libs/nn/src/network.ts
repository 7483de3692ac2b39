import { backwardActivation, forwardActivation, type Vec } from './activations';
import { flatMask, paramLayout, type LayerLayout, type ParamLayout } from './layout';
import { lossAndDelta } from './losses';
import { perSpec } from './per-spec';
import { checkRunArgs, gatherSkip, inputWidth } from './run-inputs';
import { matmulAdd, matmulAddTransA, matmulAddTransB } from './matmul';
import {
  backwardSpatial,
  forwardSpatial,
  reserveArgmax,
  spatialWorkspace,
  type SpatialWorkspace,
} from './spatial-layers';
import { activationOf, outputUnits, type NetworkSpec } from './spec';

/**
 * The reference forward and backward pass (the lecture's delta recursion), batched.
 *
 * Dense layer n = 1..L, batch rows row-major [batch, features]:
 *   x(n) = h(n-1), or [h(n-1), h(from)] (concat skip ending at n), or h(n-1) + h(from) (add skip)
 *   a(n) = x(n) W(n) + b(n)        W(n): [fanIn, units], masked entries count as 0
 *   h(n) = f(a(n))
 * Backward, with delta(n) = dJ/da(n):
 *   delta_k(n) = f'(a_k(n)) * sum_l w_kl(n+1) delta_l(n+1)   (+ what flows back through skips)
 *   dJ/dw_ik(n) = sum over samples of x_i(n) delta_k(n),   dJ/db_k(n) = sum of delta_k(n)
 * Gradients are summed (not averaged) over the batch, in the flat layout of layout.ts.
 *
 * conv2d, pooling and flatten layers (NHWC values, shapes.ts) run the same recursion: each turns
 * x(n) into a(n) and, backward, delta(n) into dJ/dx(n) and its parameters' gradient (conv.ts: a
 * dense layer with removed connections and shared weights; pool.ts: max pooling passes delta to
 * the first arg-max). Pooling and flatten have f = identity, so their delta is dJ/dh(n).
 *
 * All workspaces are Float64Array: inputs and parameters are copied in once per call (one pass),
 * so a Float32 and a Float64 caller share one code path and the inner loops stay monomorphic.
 */

export interface LossAndGrad<T extends Vec> {
  /** J summed over the batch. */
  loss: number;
  /** Correctly classified samples (0 for regression losses). */
  correct: number;
  /** dJ/dparams summed over the batch, flat layout. */
  grad: T;
}

/** Per-layer matrices of one forward pass, indexed by the lecture's n (index 0 of a and x unused). */
export interface ForwardTrace {
  /** x(n) = input of layer n, [batch, fanIn] (dense) or [batch, width of h(n-1)] (the others). */
  x: Float64Array[];
  /** a(n) = x(n) W(n) + b(n), [batch, units]. */
  a: Float64Array[];
  /** h(n) = f(a(n)); h[0] is the input. */
  h: Float64Array[];
}

/** A network with workspaces for up to `capacity` samples: no allocation per call or per sample. */
export class Network {
  readonly layout: ParamLayout;
  private capacity = 0;
  /** Effective parameters W * mask (and biases), Float64. */
  private readonly w: Float64Array;
  /** Gradient accumulator, Float64. */
  private readonly g: Float64Array;
  private readonly mask: Float32Array | null;
  private h: Float64Array[] = [];
  private a: Float64Array[] = [];
  /** x(n): h(n-1) itself, or a buffer for layers where a skip ends. */
  private x: Float64Array[] = [];
  /** gh[n] = dJ/dh(n), turned in place into delta(n) = dJ/da(n). */
  private gh: Float64Array[] = [];
  /** dJ/dx(n) of a skip layer before it is routed to h(n-1) and h(from). */
  private dx = new Float64Array(0);
  private y = new Float64Array(0);
  /** im2col and arg-max workspaces of the conv and pooling layers (spatial-layers.ts). */
  private readonly spatial: SpatialWorkspace;

  constructor(
    readonly spec: NetworkSpec,
    capacity = 1,
  ) {
    this.layout = paramLayout(spec);
    this.w = new Float64Array(this.layout.size);
    this.g = new Float64Array(this.layout.size);
    this.mask = flatMask(spec, this.layout);
    this.spatial = spatialWorkspace(this.layout);
    this.reserve(capacity);
  }

  /** Grow the workspaces to hold `batch` samples. */
  reserve(batch: number): void {
    if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`batch must be a positive integer, got ${batch}`);
    if (batch <= this.capacity) return;
    const { widths, layers } = this.layout;
    this.h = widths.map((w) => new Float64Array(batch * w));
    this.a = widths.map((w, n) => new Float64Array(n === 0 ? 0 : batch * w));
    this.gh = widths.map((w, n) => new Float64Array(n === 0 ? 0 : batch * w));
    this.x = [new Float64Array(0)];
    let maxSkipFanIn = 0;
    for (const l of layers) {
      const xw = this.xWidth(l);
      this.x.push(l.skip ? new Float64Array(batch * xw) : this.h[l.index - 1]);
      if (l.skip) maxSkipFanIn = Math.max(maxSkipFanIn, xw);
    }
    reserveArgmax(this.spatial, this.layout, batch);
    this.dx = new Float64Array(batch * maxSkipFanIn);
    this.y = new Float64Array(batch * widths[widths.length - 1]);
    this.capacity = batch;
  }

  /** Outputs h(L) for `batch` rows of x, written to `out` ([batch, outUnits]). */
  forward<T extends Vec>(params: Vec, x: Vec, batch: number, out: T): T {
    this.run(params, x, batch);
    const L = this.layout.layers.length;
    copyInto(out, this.h[L], batch * this.layout.widths[L], 'output');
    return out;
  }

  /** Every x(n), a(n), h(n) of a forward pass, copied. */
  forwardTrace(params: Vec, x: Vec, batch: number): ForwardTrace {
    this.run(params, x, batch);
    const { widths, layers } = this.layout;
    return {
      x: [new Float64Array(0), ...layers.map((l) => this.x[l.index].slice(0, batch * this.xWidth(l)))],
      a: this.a.map((a, n) => a.slice(0, n === 0 ? 0 : batch * widths[n])),
      h: this.h.map((h, n) => h.slice(0, batch * widths[n])),
    };
  }

  /** J and dJ/dparams summed over the batch; grad is overwritten. */
  lossAndGrad<T extends Vec>(params: Vec, x: Vec, y: Vec, batch: number, grad: T): LossAndGrad<T> {
    const { widths, layers, size } = this.layout;
    const L = layers.length;
    const K = widths[L];
    if (y.length !== batch * K) {
      throw new RangeError(`targets have ${y.length} values, batch ${batch} x ${K} outputs needs ${batch * K}`);
    }
    if (grad.length !== size) throw new RangeError(`grad has ${grad.length} values, the layout needs ${size}`);
    this.run(params, x, batch);
    copyInto(this.y, y, batch * K, 'targets');

    // delta(L) = dJ/da(L), from the loss
    const { loss, correct } = lossAndDelta(
      this.spec.loss,
      activationOf(this.spec.layers[L - 1]),
      this.a[L],
      this.h[L],
      this.y,
      this.gh[L],
      batch,
      K,
    );

    const g = this.g;
    g.fill(0);
    for (let n = 1; n < L; n++) this.gh[n].fill(0, 0, batch * widths[n]);
    for (let n = L; n >= 1; n--) {
      const l = layers[n - 1];
      const delta = this.gh[n];
      // delta_k(n) = f'(a_k(n)) * dJ/dh_k(n)   (the output layer's delta came from the loss)
      if (n < L)
        backwardActivation(activationOf(this.spec.layers[n - 1]), this.a[n], this.h[n], delta, batch, widths[n]);
      if (l.kind !== 'dense') {
        this.backwardOther(l, delta, batch);
        continue;
      }
      // dJ/dw_ik(n) = sum over samples of x_i(n) delta_k(n)
      matmulAddTransA(
        this.x[n],
        delta,
        g.subarray(l.kernelOffset, l.kernelOffset + l.kernelSize),
        batch,
        l.fanIn,
        l.units,
      );
      // dJ/db_k(n) = sum over samples of delta_k(n)
      if (l.biasOffset >= 0) {
        for (let r = 0; r < batch; r++) {
          for (let k = 0; k < l.units; k++) g[l.biasOffset + k] += delta[r * l.units + k];
        }
      }
      this.backwardInput(l, delta, batch);
    }

    // masked entries: dJ/dw = 0 exactly
    const m = this.mask;
    for (let i = 0; i < size; i++) grad[i] = m && m[i] === 0 ? 0 : g[i];
    return { loss, correct, grad };
  }

  /** dJ/dx(n) = delta(n) W(n)^T, routed to dJ/dh(n-1) and, through a skip, to dJ/dh(from). */
  private backwardInput(l: LayerLayout, delta: Float64Array, batch: number): void {
    const n = l.index;
    const W = this.w.subarray(l.kernelOffset, l.kernelOffset + l.kernelSize);
    if (!l.skip) {
      // sum_l w_kl(n) delta_l(n), the input layer h(0) needs none
      if (n > 1) matmulAddTransB(delta, W, this.gh[n - 1], batch, l.fanIn, l.units);
      return;
    }
    this.dx.fill(0, 0, batch * l.fanIn);
    matmulAddTransB(delta, W, this.dx, batch, l.fanIn, l.units);
    this.routeSkip(l, batch);
  }

  /**
   * Backward of a conv, pooling or flatten layer: its parameters' gradient and dJ/dx(n), routed
   * like a dense layer's (the input h(0) needs none).
   */
  private backwardOther(l: LayerLayout, delta: Float64Array, batch: number): void {
    const n = l.index;
    let dX: Float64Array | null = null;
    if (l.skip) {
      dX = this.dx;
      dX.fill(0, 0, batch * this.xWidth(l));
    } else if (n > 1) {
      dX = this.gh[n - 1];
    }
    backwardSpatial(l, this.x[n], delta, dX, batch, this.w, this.g, this.spatial);
    if (l.skip) this.routeSkip(l, batch);
  }

  /** dJ/dx(n) (in dx) to dJ/dh(n-1) and dJ/dh(from): the tail for concat, all of it for add. */
  private routeSkip(l: LayerLayout, batch: number): void {
    const n = l.index;
    const { from, mode } = l.skip!;
    const xw = this.xWidth(l);
    const prev = this.layout.widths[n - 1];
    const dx = this.dx;
    const gPrev = n > 1 ? this.gh[n - 1] : null;
    const gFrom = from > 0 ? this.gh[from] : null;
    const wFrom = this.layout.widths[from];
    for (let r = 0; r < batch; r++) {
      const xo = r * xw;
      if (gPrev) for (let i = 0; i < prev; i++) gPrev[r * prev + i] += dx[xo + i];
      if (!gFrom) continue;
      // concat: x = [h(n-1), h(from)] so the tail of dx is dJ/dh(from); add: both get all of dx
      const fo = mode === 'concat' ? xo + prev : xo;
      for (let i = 0; i < wFrom; i++) gFrom[r * wFrom + i] += dx[fo + i];
    }
  }

  /** Forward pass into the workspaces. */
  private run(params: Vec, x: Vec, batch: number): void {
    const { widths, layers, size } = this.layout;
    checkRunArgs(this.layout, params, x, batch);
    this.reserve(batch);
    // effective kernel W * mask: removed connections are exactly 0 in the forward pass
    const m = this.mask;
    for (let i = 0; i < size; i++) this.w[i] = m && m[i] === 0 ? 0 : params[i];
    copyInto(this.h[0], x, batch * widths[0], 'inputs');

    for (const l of layers) {
      const n = l.index;
      const xn = this.x[n];
      if (l.skip) gatherSkip(xn, this.h[n - 1], this.h[l.skip.from], l, widths, this.xWidth(l), batch);
      const a = this.a[n];
      if (l.kind !== 'dense') {
        forwardSpatial(l, xn, a, batch, this.w, this.spatial);
        forwardActivation(activationOf(this.spec.layers[n - 1]), a, this.h[n], batch, widths[n]);
        continue;
      }
      // a(n) = x(n) W(n) + b(n)
      if (l.biasOffset >= 0) {
        for (let r = 0; r < batch; r++) a.set(this.w.subarray(l.biasOffset, l.biasOffset + l.units), r * l.units);
      } else {
        a.fill(0, 0, batch * l.units);
      }
      matmulAdd(xn, this.w.subarray(l.kernelOffset, l.kernelOffset + l.kernelSize), a, batch, l.fanIn, l.units);
      // h(n) = f(a(n))
      forwardActivation(activationOf(this.spec.layers[n - 1]), a, this.h[n], batch, l.units);
    }
  }

  /** Values per sample of x(n). */
  private xWidth(l: LayerLayout): number {
    return inputWidth(this.layout, l);
  }
}

function copyInto(dst: Vec, src: Vec, n: number, what: string): void {
  if (dst.length < n || src.length < n) throw new RangeError(`${what}: need ${n} values`);
  for (let i = 0; i < n; i++) dst[i] = src[i];
}

// ---------------------------------------------------------------------------------------------
// Functional API with cached workspaces (one Network per spec object, grown to the largest batch)
// ---------------------------------------------------------------------------------------------

/** The cached Network of a spec (workspaces reused across calls). */
export const networkFor: (spec: NetworkSpec) => Network = perSpec((spec) => new Network(spec));

function outUnits(spec: NetworkSpec): number {
  return outputUnits(spec);
}

/** h(L) for a batch of inputs x [batch, inputSize]; returns [batch, outUnits]. */
export function forward(spec: NetworkSpec, params: Float32Array, x: Float32Array, batch: number): Float32Array {
  return networkFor(spec).forward(params, x, batch, new Float32Array(batch * outUnits(spec)));
}

/** forward in float64 (for gradient checks). */
export function forward64(spec: NetworkSpec, params: Float64Array, x: Float64Array, batch: number): Float64Array {
  return networkFor(spec).forward(params, x, batch, new Float64Array(batch * outUnits(spec)));
}

/** Every layer's x(n), a(n), h(n) for a batch (to check a network matrix by matrix). */
export function forwardTrace(spec: NetworkSpec, params: Vec, x: Vec, batch: number): ForwardTrace {
  return networkFor(spec).forwardTrace(params, x, batch);
}

/** Loss, correct count and gradient summed over the batch; `grad` (if given) is overwritten. */
export function lossAndGrad(
  spec: NetworkSpec,
  params: Float32Array,
  x: Float32Array,
  y: Float32Array,
  batch: number,
  grad?: Float32Array,
): LossAndGrad<Float32Array> {
  const net = networkFor(spec);
  return net.lossAndGrad(params, x, y, batch, grad ?? new Float32Array(net.layout.size));
}

/** lossAndGrad in float64 (for gradient checks). */
export function lossAndGrad64(
  spec: NetworkSpec,
  params: Float64Array,
  x: Float64Array,
  y: Float64Array,
  batch: number,
  grad?: Float64Array,
): LossAndGrad<Float64Array> {
  const net = networkFor(spec);
  return net.lossAndGrad(params, x, y, batch, grad ?? new Float64Array(net.layout.size));
}

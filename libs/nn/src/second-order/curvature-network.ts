import { backwardActivation, forwardActivation, type Vec } from '../activations';
import { flatMask, paramLayout, type LayerLayout, type ParamLayout } from '../layout';
import { lossAndDelta } from '../losses';
import { matmulAdd, matmulAddTransA, matmulAddTransB } from '../matmul';
import {
  forwardSpatial,
  backwardSpatial,
  reserveArgmax,
  spatialWorkspace,
  type SpatialWorkspace,
} from '../spatial-layers';
import { isDense, type Activation, type NetworkSpec } from '../spec';
import { checkRunArgs, gatherSkip, inputWidth } from '../run-inputs';
import { rBackwardActivation, rForwardActivation } from './activation-r';
import { rBackwardSpatial, rForwardSpatial } from './spatial-r';

/**
 * Curvature-vector products of the summed loss J(params) of a batch, exact and without finite
 * differences: the Hessian H v and the Gauss-Newton matrix G v, by Pearlmutter's R-operator
 * (R{q} = d/dr q(params + r v) at r = 0) applied to the forward pass and the delta recursion.
 *
 * Forward (network.ts) and its R-pass, dense layer n = 1..L, V(n), Vb(n) the parts of v:
 *   a(n) = x(n) W(n) + b(n)            R a(n) = R x(n) W(n) + x(n) V(n) + Vb(n)
 *   h(n) = f(a(n))                     R h(n) = f'(a(n)) R a(n)       (R h(0) = 0: inputs are data)
 *   x(n) = h(n-1) [, h(from)]          R x(n) = R h(n-1) [, R h(from)]   (same concat / add)
 * Backward and its R-pass, g(n) = dJ/dh(n), delta(n) = dJ/da(n):
 *   delta(n) = f'(a) g(n)              R delta(n) = f''(a) R a g(n) + f'(a) R g(n)   (activation-r.ts)
 *   dJ/dx(n) = delta(n) W(n)^T         R dJ/dx(n) = R delta(n) W(n)^T + delta(n) V(n)^T
 *   dJ/dW(n) = x(n)^T delta(n)         (H v)_W(n) = R x(n)^T delta(n) + x(n)^T R delta(n)
 *   dJ/db(n) = sum_rows delta(n)       (H v)_b(n) = sum_rows R delta(n)
 * Output, e = h(L) - y:
 *   sum_of_squares g(L) = e, mse g(L) = 2/K e:   R g(L) = c R h(L)  (c = 1 or 2/K)
 *   the cross-entropies fuse with softmax / sigmoid: delta(L) = p - y, R delta(L) = R p = R h(L)
 *
 * Gauss-Newton G = J^T H_out J (Schraudolph 2002, Martens 2010), J the Jacobian of the network's
 * output z, H_out = d^2 J / dz^2 (positive semi-definite):
 *   regression losses: z = h(L), H_out = c I           G v = J^T (c R h(L))
 *   cross-entropies:   z = a(L), H_out = diag(p) - p p^T (softmax) or diag(p (1 - p)) (sigmoid),
 *                      and H_out R a(L) = R p = R h(L)    G v = J^T R h(L)
 * J v is the R-forward pass; J^T u is the ordinary backward pass started from u (no R-terms).
 *
 * conv2d, pooling and flatten layers take the same passes through their linear pieces (spatial-r.ts);
 * pooling and flatten have no activation (f = identity).
 * Masked connections count as 0 in W and in V, and get exactly 0 in H v and G v. Products are
 * summed over the batch, in the flat layout of layout.ts, computed in float64 whatever the caller's type.
 */
export class CurvatureNetwork {
  readonly layout: ParamLayout;
  private readonly mask: Float32Array | null;
  /** f(n) of layers 1..L at index n - 1. */
  private readonly acts: Activation[];
  private readonly w: Float64Array;
  private readonly v: Float64Array;
  private readonly g: Float64Array;
  private readonly rg: Float64Array;
  private capacity = 0;
  private batch = 0;
  private loss = 0;
  private correct = 0;
  private x: Float64Array[] = [];
  private a: Float64Array[] = [];
  private h: Float64Array[] = [];
  private rx: Float64Array[] = [];
  private ra: Float64Array[] = [];
  private rh: Float64Array[] = [];
  /** dJ/dh(n), turned in place into delta(n). */
  private gh: Float64Array[] = [];
  /** R dJ/dh(n), turned in place into R delta(n). */
  private rgh: Float64Array[] = [];
  private dx = new Float64Array(0);
  private rdx = new Float64Array(0);
  /** im2col and arg-max workspaces of the spatial layers; a batch of a(n) for conv R-passes. */
  private readonly ws: SpatialWorkspace;
  private tmp = new Float64Array(0);
  private y = new Float64Array(0);
  /** The output's delta(L) at the point, kept for every H v. */
  private deltaL = new Float64Array(0);
  /** g(L) = dJ/dh(L) of a regression loss at the point. */
  private gL = new Float64Array(0);

  constructor(readonly spec: NetworkSpec) {
    // pooling and flatten layers have no activation of their own
    this.acts = spec.layers.map((l) => (isDense(l) || l.kind === 'conv2d' ? l.activation : 'identity'));
    this.layout = paramLayout(spec);
    this.ws = spatialWorkspace(this.layout);
    this.mask = flatMask(spec, this.layout);
    const size = this.layout.size;
    this.w = new Float64Array(size);
    this.v = new Float64Array(size);
    this.g = new Float64Array(size);
    this.rg = new Float64Array(size);
  }

  /**
   * Fix the point (params, batch) the products are taken at: runs the forward pass and the loss.
   * Returns J summed over the batch and the correct count (as lossAndGrad).
   */
  setPoint(params: Vec, x: Vec, y: Vec, batch: number): { loss: number; correct: number } {
    const { widths, layers, size } = this.layout;
    const L = layers.length;
    const K = widths[L];
    checkRunArgs(this.layout, params, x, batch);
    if (y.length !== batch * K) {
      throw new RangeError(`targets have ${y.length} values, batch ${batch} x ${K} outputs needs ${batch * K}`);
    }
    this.reserve(batch);
    this.batch = batch;
    const m = this.mask;
    // effective kernel W * mask: removed connections are exactly 0
    for (let i = 0; i < size; i++) this.w[i] = m && m[i] === 0 ? 0 : params[i];
    for (let i = 0; i < batch * widths[0]; i++) this.h[0][i] = x[i];
    for (let i = 0; i < batch * K; i++) this.y[i] = y[i];
    for (const l of layers) {
      const n = l.index;
      if (l.skip) gatherSkip(this.x[n], this.h[n - 1], this.h[l.skip.from], l, widths, this.xWidth(l), batch);
      const a = this.a[n];
      if (l.kind === 'dense') {
        // a(n) = x(n) W(n) + b(n)
        if (l.biasOffset >= 0) {
          for (let r = 0; r < batch; r++) a.set(this.w.subarray(l.biasOffset, l.biasOffset + l.units), r * l.units);
        } else a.fill(0, 0, batch * l.units);
        matmulAdd(this.x[n], kernel(this.w, l), a, batch, l.fanIn, l.units);
      } else forwardSpatial(l, this.x[n], a, batch, this.w, this.ws);
      // h(n) = f(a(n))
      forwardActivation(this.acts[n - 1], a, this.h[n], batch, widths[n]);
    }
    const out = this.acts[L - 1];
    const res = lossAndDelta(this.spec.loss, out, this.a[L], this.h[L], this.y, this.deltaL, batch, K);
    const c = this.outputScale();
    // g(L) = c (h(L) - y) of a regression loss
    for (let i = 0; i < batch * K; i++) this.gL[i] = c * (this.h[L][i] - this.y[i]);
    this.loss = res.loss;
    this.correct = res.correct;
    return res;
  }

  /** J at the point (summed over the batch). */
  get pointLoss(): number {
    return this.loss;
  }

  /** H v at the point, written to `hv`; the gradient dJ/dparams to `grad` when given. */
  hessianVector<T extends Vec>(v: Vec, hv: T, grad?: Vec): T {
    this.rForward(v);
    const { widths, layers } = this.layout;
    const L = layers.length;
    const K = widths[L];
    const n = this.batch * K;
    this.gh[L].set(this.deltaL.subarray(0, n));
    if (this.isRegression()) {
      // R g(L) = c R h(L), then R delta(L) through the output activation (before delta(L) is formed from g)
      const c = this.outputScale();
      for (let i = 0; i < n; i++) this.rgh[L][i] = c * this.rh[L][i];
      const act = this.acts[L - 1];
      rBackwardActivation(act, this.a[L], this.h[L], this.gL, this.ra[L], this.rgh[L], this.rgh[L], this.batch, K);
    } else {
      // R delta(L) = R p = R h(L)
      this.rgh[L].set(this.rh[L].subarray(0, n));
    }
    this.backward(true);
    writeMasked(hv, this.rg, this.mask);
    if (grad) writeMasked(grad, this.g, this.mask);
    return hv;
  }

  /** G v = J^T H_out J v at the point, written to `gv`. */
  gaussNewtonVector<T extends Vec>(v: Vec, gv: T): T {
    this.rForward(v);
    const { widths, layers } = this.layout;
    const L = layers.length;
    const K = widths[L];
    const n = this.batch * K;
    const delta = this.gh[L];
    if (this.isRegression()) {
      // u = c R h(L) = H_out J v, then delta(L) = f'(a(L)) u
      const c = this.outputScale();
      for (let i = 0; i < n; i++) delta[i] = c * this.rh[L][i];
      backwardActivation(this.acts[L - 1], this.a[L], this.h[L], delta, this.batch, K);
    } else {
      // delta(L) = H_out R a(L) = R p
      delta.set(this.rh[L].subarray(0, n));
    }
    this.backward(false);
    writeMasked(gv, this.g, this.mask);
    return gv;
  }

  private isRegression(): boolean {
    return this.spec.loss === 'sum_of_squares' || this.spec.loss === 'mse';
  }

  /** c of g(L) = c (h(L) - y): 1 for sum_of_squares, 2/K for mse. */
  private outputScale(): number {
    const K = this.layout.widths[this.layout.layers.length];
    return this.spec.loss === 'mse' ? 2 / K : 1;
  }

  /** The R-forward pass along v: R x(n), R a(n), R h(n) (the Jacobian-vector product J v). */
  private rForward(v: Vec): void {
    const { widths, layers, size } = this.layout;
    if (this.batch === 0) throw new Error('setPoint must be called before a curvature product');
    if (v.length !== size) throw new RangeError(`direction v has ${v.length} values, the layout needs ${size}`);
    const m = this.mask;
    for (let i = 0; i < size; i++) this.v[i] = m && m[i] === 0 ? 0 : v[i];
    const batch = this.batch;
    for (const l of layers) {
      const n = l.index;
      if (l.skip) gatherSkip(this.rx[n], this.rh[n - 1], this.rh[l.skip.from], l, widths, this.xWidth(l), batch);
      const ra = this.ra[n];
      if (l.kind !== 'dense') {
        rForwardSpatial(l, this.x[n], this.rx[n], ra, batch, this.w, this.v, this.ws, this.tmp);
        rForwardActivation(this.acts[n - 1], this.a[n], this.h[n], ra, this.rh[n], batch, widths[n]);
        continue;
      }
      // R a(n) = R x(n) W(n) + x(n) V(n) + Vb(n)
      if (l.biasOffset >= 0) {
        for (let r = 0; r < batch; r++) ra.set(this.v.subarray(l.biasOffset, l.biasOffset + l.units), r * l.units);
      } else ra.fill(0, 0, batch * l.units);
      if (n > 1 || l.skip) matmulAdd(this.rx[n], kernel(this.w, l), ra, batch, l.fanIn, l.units);
      matmulAdd(this.x[n], kernel(this.v, l), ra, batch, l.fanIn, l.units);
      // R h(n) = f'(a(n)) R a(n)
      rForwardActivation(this.acts[n - 1], this.a[n], this.h[n], ra, this.rh[n], batch, widths[n]);
    }
  }

  /**
   * The delta recursion from gh[L] = delta(L) into g; with `second`, also its R-pass from
   * rgh[L] = R delta(L) into rg. gh and rgh of the hidden layers are zeroed here.
   */
  private backward(second: boolean): void {
    const { widths, layers } = this.layout;
    const L = layers.length;
    const batch = this.batch;
    this.g.fill(0);
    if (second) this.rg.fill(0);
    for (let n = 1; n < L; n++) {
      this.gh[n].fill(0, 0, batch * widths[n]);
      if (second) this.rgh[n].fill(0, 0, batch * widths[n]);
    }
    for (let n = L; n >= 1; n--) {
      const l = layers[n - 1];
      const act = this.acts[n - 1];
      const delta = this.gh[n];
      const rdelta = this.rgh[n];
      if (n < L) {
        // R delta(n) = f''(a) R a g(n) + f'(a) R g(n), read before g(n) becomes delta(n) = f'(a) g(n)
        const u = widths[n];
        if (second) rBackwardActivation(act, this.a[n], this.h[n], delta, this.ra[n], rdelta, rdelta, batch, u);
        backwardActivation(act, this.a[n], this.h[n], delta, batch, u);
      }
      if (l.kind !== 'dense') {
        // the parameters' gradient (and R-pass) and dJ/dx(n) of a conv, pooling or flatten layer
        const first = (dX: Float64Array | null) =>
          backwardSpatial(l, this.x[n], delta, dX, batch, this.w, this.g, this.ws);
        if (!this.routeInput(l, this.gh, this.dx, first)) first(null);
        const spatialR = (rdX: Float64Array | null) =>
          rBackwardSpatial(l, this.x[n], this.rx[n], delta, rdelta, rdX, batch, this.w, this.v, this.rg, this.ws);
        if (second && !this.routeInput(l, this.rgh, this.rdx, spatialR)) spatialR(null);
        continue;
      }
      // dJ/dW(n) = x(n)^T delta(n);  (H v)_W(n) = R x(n)^T delta(n) + x(n)^T R delta(n)
      matmulAddTransA(this.x[n], delta, kernel(this.g, l), batch, l.fanIn, l.units);
      if (second) {
        if (n > 1 || l.skip) matmulAddTransA(this.rx[n], delta, kernel(this.rg, l), batch, l.fanIn, l.units);
        matmulAddTransA(this.x[n], rdelta, kernel(this.rg, l), batch, l.fanIn, l.units);
      }
      if (l.biasOffset >= 0) {
        for (let r = 0; r < batch; r++) {
          for (let k = 0; k < l.units; k++) {
            this.g[l.biasOffset + k] += delta[r * l.units + k];
            if (second) this.rg[l.biasOffset + k] += rdelta[r * l.units + k];
          }
        }
      }
      // dJ/dx(n) = delta(n) W(n)^T
      this.routeInput(l, this.gh, this.dx, (out) =>
        matmulAddTransB(delta, kernel(this.w, l), out, batch, l.fanIn, l.units),
      );
      // R dJ/dx(n) = R delta(n) W(n)^T + delta(n) V(n)^T
      if (second) {
        this.routeInput(l, this.rgh, this.rdx, (out) => {
          matmulAddTransB(rdelta, kernel(this.w, l), out, batch, l.fanIn, l.units);
          matmulAddTransB(delta, kernel(this.v, l), out, batch, l.fanIn, l.units);
        });
      }
    }
  }

  /**
   * dJ/dx(n), written by `emit` (which adds into the array it is given), routed to into[n-1] and,
   * through a skip, to into[from]; the input h(0) needs none. False when nothing was emitted.
   */
  private routeInput(
    l: LayerLayout,
    into: Float64Array[],
    dx: Float64Array,
    emit: (out: Float64Array) => void,
  ): boolean {
    const n = l.index;
    const batch = this.batch;
    const widths = this.layout.widths;
    if (!l.skip) {
      if (n === 1) return false;
      emit(into[n - 1]);
      return true;
    }
    const xw = this.xWidth(l);
    dx.fill(0, 0, batch * xw);
    emit(dx);
    const { from, mode } = l.skip;
    const prev = widths[n - 1];
    const wFrom = widths[from];
    const gPrev = into[n - 1];
    const gFrom = from > 0 ? into[from] : null;
    for (let r = 0; r < batch; r++) {
      const xo = r * xw;
      for (let i = 0; i < prev; i++) gPrev[r * prev + i] += dx[xo + i];
      if (!gFrom) continue;
      // concat: the tail of dx belongs to h(from); add: both get all of dx
      const fo = mode === 'concat' ? xo + prev : xo;
      for (let i = 0; i < wFrom; i++) gFrom[r * wFrom + i] += dx[fo + i];
    }
    return true;
  }

  /** Values per sample of x(n). */
  private xWidth(l: LayerLayout): number {
    return inputWidth(this.layout, l);
  }

  private reserve(batch: number): void {
    if (batch <= this.capacity) return;
    const { widths, layers } = this.layout;
    const perLayer = () => widths.map((w, n) => new Float64Array(n === 0 ? 0 : batch * w));
    this.h = widths.map((w) => new Float64Array(batch * w));
    this.rh = widths.map((w) => new Float64Array(batch * w)); // R h(0) stays 0
    this.a = perLayer();
    this.ra = perLayer();
    this.gh = perLayer();
    this.rgh = perLayer();
    this.x = [new Float64Array(0)];
    this.rx = [new Float64Array(0)];
    let maxSkipFanIn = 0;
    for (const l of layers) {
      const xw = this.xWidth(l);
      this.x.push(l.skip ? new Float64Array(batch * xw) : this.h[l.index - 1]);
      this.rx.push(l.skip ? new Float64Array(batch * xw) : this.rh[l.index - 1]);
      if (l.skip) maxSkipFanIn = Math.max(maxSkipFanIn, xw);
    }
    this.dx = new Float64Array(batch * maxSkipFanIn);
    this.rdx = new Float64Array(batch * maxSkipFanIn);
    this.tmp = new Float64Array(batch * Math.max(...widths));
    reserveArgmax(this.ws, this.layout, batch);
    const K = widths[widths.length - 1];
    this.y = new Float64Array(batch * K);
    this.deltaL = new Float64Array(batch * K);
    this.gL = new Float64Array(batch * K);
    this.capacity = batch;
  }
}

function kernel(flat: Float64Array, l: LayerLayout): Float64Array {
  return flat.subarray(l.kernelOffset, l.kernelOffset + l.kernelSize);
}

function writeMasked(dst: Vec, src: Float64Array, m: Float32Array | null): void {
  for (let i = 0; i < src.length; i++) dst[i] = m && m[i] === 0 ? 0 : src[i];
}

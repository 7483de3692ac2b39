import type { Activation, LayerLayout, Shape, Window2d } from '@nnq/nn';
import { emitActivation, type EmittedActivation } from './activations';
import { emitAvgPool, emitConv, emitMaxPool, transposeAttrs } from './conv-graph';
import type { GraphBuilder } from './graph';
import type { Converter, Value } from './network';

/**
 * One layer of a curvature graph (hessian-graph.ts): its forward pass, the R-forward pass along
 * the direction v, and a backward step that emits the layer's part of H v or G v.
 * R{q} = d/dr q(params + r v) at r = 0 (libs/nn/src/second-order/curvature-network.ts, spatial-r.ts):
 *   dense    a = x W + b                 R a = R x W + x V + Vb
 *            (H v)_W = R x^T delta + x^T R delta,  (H v)_b = sum_rows R delta
 *            R dJ/dx = R delta W^T + delta V^T
 *   conv2d   a = conv(x, W) + b          R a = conv(R x, W) + conv(x, V) + Vb
 *            (H v)_W = cols(R x)^T delta + cols(x)^T R delta,  (H v)_b = sum over cells of R delta
 *            R dJ/dx = convT(R delta, W) + convT(delta, V)     (convT: the ConvTranspose of conv-graph.ts)
 *   maxPool  R h_o = R x at the forward's first arg-max of window o;  R dJ/dx routes R delta there too
 *   avgPool  R h = avgPool(R x);         R dJ/dx = avgPool's transpose of R delta
 *   flatten  R h = R x (NCHW to NHWC flat);  R dJ/dx = R delta
 * Each weight-gradient piece reuses conv-graph.ts's backward (a Conv with the delta as kernel), so
 * the R-pass mirrors the training graph's backward op for op. Gauss-Newton needs only the ordinary
 * backward pass (rdelta null): (G v)_W = x^T delta, dJ/dx = delta W^T.
 */
export interface CurvatureLayer {
  /** a(n) and R a(n), in the layer's layout; pooling and flatten: their h (no activation). */
  readonly a: string;
  readonly ra: string;
  /** h(n) = f(a(n)) and R h(n) = f'(a(n)) R a(n); null stands for 0 (a pooled input). */
  readonly h: Value;
  readonly rh: Value | null;
  /** f of the layer (identity for pooling and flatten) and its emitted form. */
  readonly activation: Activation;
  readonly act: EmittedActivation;
  /**
   * Emits kernel_n_hv and bias_n_hv from delta(n) and R delta(n) (null: Gauss-Newton, the ordinary
   * backward), and returns dJ/dx(n) and R dJ/dx(n) when `needInput`.
   */
  backward(delta: string, rdelta: string | null, needInput: boolean): { dx: Value; rdx: Value | null } | null;
}

/** What every layer of one graph shares. */
export interface CurvatureContext {
  readonly g: GraphBuilder;
  readonly batch: number;
  /** H v (true) or G v. */
  readonly hessian: boolean;
  /** A [batch] initializer of ones (bias sums as a GEMV). */
  ones(): string;
  readonly convert: Converter;
}

/** The graph values of a layer's parameters and direction (kernels already masked). */
export interface LayerParams {
  readonly kernel: string;
  readonly v: string;
  readonly bias: string | null;
  readonly vBias: string | null;
  /** Bool [fanIn, units] of a masked dense layer: its product is exactly 0 where false. */
  readonly keep: string | null;
}

const flat = (name: string): Value => ({ name, nchw: false });
const nchw = (name: string): Value => ({ name, nchw: true });

/**
 * Layer l on x(n) (NCHW for conv and pooling, flat for dense; flatten: either) and R x(n) in the
 * same layout (null: 0). `inShape` is the shape of x(n).
 */
export function emitCurvatureLayer(
  c: CurvatureContext,
  l: LayerLayout,
  activation: Activation,
  x: Value,
  rx: string | null,
  p: LayerParams | null,
  inShape: Shape,
): CurvatureLayer {
  const { g } = c;
  switch (l.kind) {
    case 'dense':
      return denseLayer(c, l, activation, x.name, rx, p!);
    case 'conv2d':
      return convLayer(c, l, activation, x.name, rx, p!);
    case 'flatten': {
      const h = c.convert.flat(x, inShape);
      const rh = rx === null ? null : c.convert.flat({ name: rx, nchw: x.nchw }, inShape);
      return linear(g, h, rh, false, (d) => d);
    }
    case 'maxPool2d': {
      const pool = emitMaxPool(g, x.name, l.window!, c.batch);
      // R h_o = R x at the arg-max: Indices address the NCHW input flat, so a Gather of R x flat
      const rh =
        rx === null ? null : g.op('Gather', [g.op('Reshape', [rx, g.int64s([-1])]), pool.indices!], { axis: 0 });
      return linear(g, pool.h, rh, true, pool.backward);
    }
    case 'avgPool2d': {
      const pool = emitAvgPool(g, x.name, l.window!);
      const rh = rx === null ? null : emitAvgPool(g, rx, l.window!).h;
      return linear(g, pool.h, rh, true, pool.backward);
    }
  }
}

/**
 * A layer linear in x at the point (pooling with its arg-max kept, flatten): the same map carries
 * x, R x, delta and R delta. `back` is its transpose (flatten: the identity on flat values).
 */
function linear(
  g: GraphBuilder,
  h: string,
  rh: string | null,
  image: boolean,
  back: (d: string, needInput: boolean) => string | null,
): CurvatureLayer {
  const value = image ? nchw : flat;
  const map = (d: string) => value(back(d, true)!);
  return {
    a: h,
    ra: rh ?? '',
    h: value(h),
    rh: rh === null ? null : value(rh),
    activation: 'identity',
    act: emitActivation(g, 'identity', h, 0),
    backward: (delta, rdelta, needInput) =>
      needInput ? { dx: map(delta), rdx: rdelta === null ? null : map(rdelta) } : null,
  };
}

function denseLayer(
  c: CurvatureContext,
  l: LayerLayout,
  activation: Activation,
  x: string,
  rx: string | null,
  p: LayerParams,
): CurvatureLayer {
  const { g } = c;
  const n = l.index;
  // a(n) = x(n) W(n) + b(n);  R a(n) = R x(n) W(n) + x(n) V(n) + Vb(n)
  const a = p.bias ? g.op('Gemm', [x, p.kernel, p.bias]) : g.op('MatMul', [x, p.kernel]);
  let ra = p.vBias ? g.op('Gemm', [x, p.v, p.vBias]) : g.op('MatMul', [x, p.v]);
  if (rx) ra = g.op('Add', [ra, g.op('MatMul', [rx, p.kernel])]);
  const act = emitActivation(g, activation, a, l.units);
  return {
    a,
    ra,
    h: flat(act.h),
    rh: flat(act.backward(ra)), // R h(n) = f'(a(n)) R a(n) (softmax: its Jacobian, symmetric)
    activation,
    act,
    backward: (delta, rdelta, needInput) => {
      const top = rdelta ?? delta;
      // (H v)_W = R x^T delta + x^T R delta;  G v: x^T delta
      let kw = g.op('Gemm', [x, top], { transA: 1 });
      if (rdelta && rx) kw = g.op('Add', [kw, g.op('Gemm', [rx, delta], { transA: 1 })]);
      // masked entries exactly +0 (Where, not Mul, which would leave -0)
      if (p.keep) g.op('Where', [p.keep, kw, g.scalar(0)], {}, `kernel_${n}_hv`);
      else g.op('Identity', [kw], {}, `kernel_${n}_hv`);
      if (p.bias) g.op('MatMul', [c.ones(), top], {}, `bias_${n}_hv`);
      if (!needInput) return null;
      // dJ/dx(n) = delta W^T;  R dJ/dx(n) = R delta W^T + delta V^T
      const dx = g.op('Gemm', [delta, p.kernel], { transB: 1 });
      if (!rdelta) return { dx: flat(dx), rdx: null };
      const rdx = g.op('Add', [
        g.op('Gemm', [rdelta, p.kernel], { transB: 1 }),
        g.op('Gemm', [delta, p.v], { transB: 1 }),
      ]);
      return { dx: flat(dx), rdx: flat(rdx) };
    },
  };
}

function convLayer(
  c: CurvatureContext,
  l: LayerLayout,
  activation: Activation,
  x: string,
  rx: string | null,
  p: LayerParams,
): CurvatureLayer {
  const { g } = c;
  const n = l.index;
  const w = l.window!;
  const out = { kernel: `kernel_${n}_hv`, bias: p.bias ? `bias_${n}_hv` : null };
  // H v with R x: the kernel's product has two parts, cols(x)^T R delta and cols(R x)^T delta
  const split = c.hessian && rx !== null;
  // a(n) = conv(x, W) + b; its backward, given R delta (H v) or delta (G v), writes the x-part
  const fw = emitConv(g, x, p.kernel, p.bias, w, split ? { kernel: `kernel_${n}_hv_x`, bias: out.bias } : out);
  // R a(n) = conv(x, V) + Vb + conv(R x, W)
  const xv = emitConv(g, x, p.v, p.vBias, w, { kernel: `kernel_${n}_unused`, bias: null }).a;
  const rxw = rx === null ? null : emitConv(g, rx, p.kernel, null, w, { kernel: `kernel_${n}_hv_rx`, bias: null });
  const ra = rxw ? g.op('Add', [xv, rxw.a]) : xv;
  const act = emitActivation(g, activation, fw.a, l.units);
  return {
    a: fw.a,
    ra,
    h: nchw(act.h),
    rh: nchw(act.backward(ra)),
    activation,
    act,
    backward: (delta, rdelta, needInput) => {
      if (rdelta === null) {
        const dx = fw.backward(delta, needInput); // (G v)_W = cols(x)^T delta, dJ/dx = convT(delta, W)
        return dx === null ? null : { dx: nchw(dx), rdx: null };
      }
      const rdxW = fw.backward(rdelta, needInput); // cols(x)^T R delta, sum R delta, convT(R delta, W)
      // cols(R x)^T delta and dJ/dx = convT(delta, W)
      const dx = rxw ? rxw.backward(delta, needInput) : needInput ? inputGrad(g, delta, p.kernel, w) : null;
      if (split) g.op('Add', [`kernel_${n}_hv_x`, `kernel_${n}_hv_rx`], {}, out.kernel);
      if (!needInput) return null;
      // R dJ/dx = convT(R delta, W) + convT(delta, V)
      const rdx = g.op('Add', [rdxW!, inputGrad(g, delta, p.v, w)]);
      return { dx: nchw(dx!), rdx: nchw(rdx) };
    },
  };
}

/** convT(delta, K): dJ/dx of a conv with the HWIO kernel K [kh * kw * cin, filters], NCHW. */
function inputGrad(g: GraphBuilder, delta: string, kernel: string, w: Window2d): string {
  const hwio = g.op('Reshape', [kernel, g.int64s([w.kh, w.kw, w.inC, w.outC])]);
  const oihw = g.op('Transpose', [hwio], { perm: [3, 2, 0, 1] });
  return g.op('ConvTranspose', [delta, oihw], transposeAttrs(w));
}

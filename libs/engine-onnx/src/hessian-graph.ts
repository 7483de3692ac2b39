import { isDense, paramLayout, type Activation, type NetworkSpec, type ParamLayout } from '@nnq/nn';
import { emitActivation, emitSigmoid, type EmittedActivation } from './activations';
import { GraphBuilder } from './graph';
import { maskOf } from './network';
import { flatSlots, INPUT_X, INPUT_Y, type FlatSlot } from './training-graph';

/**
 * Curvature-vector products as one ONNX graph of standard operators, for a fixed batch size:
 * H v (Pearlmutter's R-operator) or G v = J^T H_out J v (Gauss-Newton), the equations of
 * libs/nn/src/second-order/curvature-network.ts written out op by op, dense layers only.
 *
 * Inputs: x, y, kernel_n, bias_n (as the training graph) and the direction v_kernel_n, v_bias_n.
 * Outputs: kernel_n_hv, bias_n_hv (summed over the batch; masked entries exactly 0).
 *   forward     a(n) = x(n) W(n) + b(n),          h(n) = f(a(n))
 *   R-forward   R a(n) = R x(n) W(n) + x(n) V(n) + Vb(n),   R h(n) = f'(a(n)) R a(n)
 *   R-backward  R delta(n) = f''(a) R a g(n) + f'(a) R g(n)   (softmax: see rOutput)
 *               R dJ/dx(n) = R delta(n) W^T + delta(n) V^T
 *               (H v)_W(n) = R x(n)^T delta(n) + x(n)^T R delta(n),  (H v)_b(n) = sum_rows R delta(n)
 *   Gauss-Newton: the ordinary backward pass started from delta(L) = f'(a(L)) c R h(L) (regression)
 *               or R h(L) (cross-entropies).
 */
export type CurvatureKind = 'hessian' | 'gauss-newton';

export interface CurvatureGraph {
  readonly model: Uint8Array;
  readonly batch: number;
  readonly layout: ParamLayout;
  readonly slots: readonly FlatSlot[];
  readonly kind: CurvatureKind;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

export function buildCurvatureGraph(spec: NetworkSpec, batch: number, kind: CurvatureKind): CurvatureGraph {
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`batch must be a positive integer, got ${batch}`);
  const conv = spec.layers.findIndex((l) => !isDense(l));
  if (conv >= 0) throw new RangeError(`layers[${conv}].kind: Hv for conv layers: not yet (dense layers only)`);
  const acts = spec.layers.map((l) => (isDense(l) ? l.activation : 'identity')) as Activation[];
  const layout = paramLayout(spec);
  const L = layout.layers.length;
  const K = layout.widths[L];
  const g = new GraphBuilder(`nnq_${kind}_vector`);
  const slots = flatSlots(layout);
  const x = g.input(INPUT_X, [batch, layout.widths[0]]);
  const y = g.input(INPUT_Y, [batch, K]);
  for (const s of slots) {
    g.input(s.name, s.dims);
    g.input(`v_${s.name}`, s.dims);
  }
  const keep: (string | null)[] = [null];
  const W: string[] = [''];
  const V: string[] = [''];
  for (const l of layout.layers) {
    const n = l.index;
    const m = maskOf(spec, n);
    keep.push(m ? g.boolInitializer(`keep_${n}`, m, [l.fanIn, l.units]) : null);
    const mask = m ? g.initializer(`mask_${n}`, m, [l.fanIn, l.units]) : null;
    // effective kernel and direction: W * mask, V * mask
    W.push(mask ? g.op('Mul', [`kernel_${n}`, mask]) : `kernel_${n}`);
    V.push(mask ? g.op('Mul', [`v_kernel_${n}`, mask]) : `v_kernel_${n}`);
  }
  const zeros0 = g.initializer('zeros_input', new Float32Array(batch * layout.widths[0]), [batch, layout.widths[0]]);
  const gather = (hs: string[], n: number) => {
    const skip = layout.layers[n - 1].skip;
    if (!skip) return hs[n - 1];
    return skip.mode === 'concat'
      ? g.op('Concat', [hs[n - 1], hs[skip.from]], { axis: 1 })
      : g.op('Add', [hs[n - 1], hs[skip.from]]);
  };

  // ---- forward and R-forward
  const h: string[] = [x];
  const rh: string[] = [zeros0];
  const xs: string[] = [''];
  const rxs: (string | null)[] = [null];
  const a: string[] = [''];
  const ra: string[] = [''];
  const em: EmittedActivation[] = [{ h: x, backward: (d) => d }];
  for (const l of layout.layers) {
    const n = l.index;
    xs.push(gather(h, n));
    // R x(n) is 0 at the first layer without a skip (R h(0) = 0: inputs are data)
    rxs.push(n === 1 && !l.skip ? null : gather(rh, n));
    const bias = l.biasOffset >= 0;
    a.push(bias ? g.op('Gemm', [xs[n], W[n], `bias_${n}`]) : g.op('MatMul', [xs[n], W[n]]));
    em.push(emitActivation(g, acts[n - 1], a[n], l.units));
    h.push(em[n].h);
    // R a(n) = R x(n) W(n) + x(n) V(n) + Vb(n)
    let r = bias ? g.op('Gemm', [xs[n], V[n], `v_bias_${n}`]) : g.op('MatMul', [xs[n], V[n]]);
    if (rxs[n]) r = g.op('Add', [r, g.op('MatMul', [rxs[n]!, W[n]])]);
    ra.push(r);
    rh.push(em[n].backward(r)); // R h(n) = f'(a(n)) R a(n) (softmax: its Jacobian, symmetric)
  }

  // ---- delta(L) and R delta(L)
  const regression = spec.loss === 'sum_of_squares' || spec.loss === 'mse';
  const c = spec.loss === 'mse' ? 2 / K : 1;
  const gL = g.op('Mul', [g.op('Sub', [h[L], y]), g.scalar(c)]); // g(L) = c (h(L) - y)
  let delta: string;
  let rdelta: string | null = null;
  if (kind === 'gauss-newton') {
    delta = regression ? em[L].backward(g.op('Mul', [rh[L], g.scalar(c)])) : rh[L];
  } else {
    delta = regression ? em[L].backward(gL) : g.op('Sub', [h[L], y]); // cross-entropies: p - y
    rdelta = regression
      ? rBackward(g, acts[L - 1], em[L], a[L], h[L], gL, ra[L], g.op('Mul', [rh[L], g.scalar(c)]))
      : rh[L];
  }

  // ---- backward (and its R-pass for H v)
  const ones = g.initializer('ones_batch', new Float32Array(batch).fill(1), [batch]);
  const dh: string[][] = layout.widths.map(() => []);
  const rdh: string[][] = layout.widths.map(() => []);
  const masked = (n: number, v: string, out: string) =>
    keep[n] ? g.op('Where', [keep[n]!, v, g.scalar(0)], {}, out) : g.op('Identity', [v], {}, out);
  for (let n = L; n >= 1; n--) {
    const l = layout.layers[n - 1];
    if (n < L) {
      const gn = dh[n].reduce((acc, v) => g.op('Add', [acc, v]));
      if (rdelta !== null || kind === 'hessian') {
        const rgn = rdh[n].reduce((acc, v) => g.op('Add', [acc, v]));
        rdelta = rBackward(g, acts[n - 1], em[n], a[n], h[n], gn, ra[n], rgn);
      }
      delta = em[n].backward(gn);
    }
    const top = kind === 'hessian' ? rdelta! : delta;
    // (H v)_W = R x^T delta + x^T R delta;  G v: x^T delta
    let kw = g.op('Gemm', [xs[n], top], { transA: 1 });
    if (kind === 'hessian' && rxs[n]) kw = g.op('Add', [kw, g.op('Gemm', [rxs[n]!, delta], { transA: 1 })]);
    masked(n, kw, `kernel_${n}_hv`);
    if (l.biasOffset >= 0) g.op('MatMul', [ones, top], {}, `bias_${n}_hv`);
    if (n === 1 && !l.skip) continue;
    const dx = g.op('Gemm', [delta, W[n]], { transB: 1 });
    const rdx =
      kind === 'hessian'
        ? g.op('Add', [g.op('Gemm', [rdelta!, W[n]], { transB: 1 }), g.op('Gemm', [delta, V[n]], { transB: 1 })])
        : null;
    route(g, layout, n, dx, dh);
    if (rdx) route(g, layout, n, rdx, rdh);
  }
  for (const s of slots) g.output(`${s.name}_hv`, s.dims);
  return { model: g.toModel(`${kind} vector product, batch ${batch}`), batch, layout, slots, kind };
}

/** dJ/dx(n) onto h(n-1) and, through a skip, onto h(from) (the input h(0) takes nothing). */
function route(g: GraphBuilder, layout: ParamLayout, n: number, dx: string, into: string[][]): void {
  const skip = layout.layers[n - 1].skip;
  const prev = layout.widths[n - 1];
  if (skip?.mode === 'concat') {
    if (n > 1) into[n - 1].push(g.op('Slice', [dx, g.int64s([0]), g.int64s([prev]), g.int64s([1])]));
    if (skip.from > 0) {
      const end = prev + layout.widths[skip.from];
      into[skip.from].push(g.op('Slice', [dx, g.int64s([prev]), g.int64s([end]), g.int64s([1])]));
    }
    return;
  }
  if (n > 1) into[n - 1].push(dx);
  if (skip?.mode === 'add' && skip.from > 0) into[skip.from].push(dx);
}

/**
 * R delta = f''(a) R a g + f'(a) R g for delta = f'(a) g. Softmax (delta_k = p_k (g_k - s),
 * s = sum_j p_j g_j): R delta_k = R p_k (g_k - s) - p_k sum_j R p_j g_j + [p_k (R g_k - sum_j p_j R g_j)].
 */
function rBackward(
  g: GraphBuilder,
  act: Activation,
  em: EmittedActivation,
  a: string,
  h: string,
  gv: string,
  ra: string,
  rg: string,
): string {
  const first = em.backward(rg); // f'(a) R g (softmax: the bracket)
  if (act === 'softmax') {
    const rp = em.backward(ra);
    const s = g.op('ReduceSum', [g.op('Mul', [h, gv]), g.int64s([1])], { keepdims: 1 });
    const rpg = g.op('ReduceSum', [g.op('Mul', [rp, gv]), g.int64s([1])], { keepdims: 1 });
    const second = g.op('Sub', [g.op('Mul', [rp, g.op('Sub', [gv, s])]), g.op('Mul', [h, rpg])]);
    return g.op('Add', [first, second]);
  }
  const f2 = secondDerivative(g, act, a, h);
  return f2 ? g.op('Add', [first, g.op('Mul', [f2, g.op('Mul', [ra, gv])])]) : first;
}

/** f''(a) of an element-wise activation, or null where it is 0 (identity, relu, leaky_relu). */
function secondDerivative(g: GraphBuilder, act: Activation, a: string, h: string): string | null {
  switch (act) {
    case 'identity':
    case 'relu':
    case 'leaky_relu':
    case 'softmax':
      return null;
    case 'elu': // a > 0 ? 0 : exp(a)
      return g.op('Where', [
        g.op('Greater', [a, g.scalar(0)]),
        g.scalar(0),
        g.op('Exp', [g.op('Min', [a, g.scalar(0)])]),
      ]);
    case 'sigmoid': {
      // s (1 - s) (1 - 2 s) = slope (sigmoid(-a) - sigmoid(a))
      const sg = emitSigmoid(g, a);
      return g.op('Mul', [sg.slope(), g.op('Sub', [sg.complement(), sg.s])]);
    }
    case 'tanh': {
      // -2 t (1 - t^2), 1 - t^2 = 4 sigmoid(2a) sigmoid(-2a)
      const sg = emitSigmoid(g, g.op('Mul', [a, g.scalar(2)]));
      return g.op('Mul', [h, g.op('Mul', [sg.slope(), g.scalar(-8)])]);
    }
    case 'softplus': // sigmoid(a) sigmoid(-a)
      return emitSigmoid(g, a).slope();
    case 'gelu': {
      // (1 - t^2) (u' + a/2 (u'' - 2 t u'^2)), u = sqrt(2/pi) (a + c a^3), t = tanh(u) = 2 s - 1, s = sigmoid(2u)
      const a2 = g.op('Mul', [a, a]);
      const u = g.op('Mul', [
        g.op('Mul', [a, g.op('Add', [g.scalar(1), g.op('Mul', [a2, g.scalar(GELU_C)])])]),
        g.scalar(SQRT_2_OVER_PI),
      ]);
      const sg = emitSigmoid(g, g.op('Mul', [u, g.scalar(2)]));
      const t = g.op('Sub', [sg.s, sg.complement()]);
      const oneMinusT2 = g.op('Mul', [sg.slope(), g.scalar(4)]);
      const u1 = g.op('Mul', [
        g.op('Add', [g.scalar(1), g.op('Mul', [a2, g.scalar(3 * GELU_C)])]),
        g.scalar(SQRT_2_OVER_PI),
      ]);
      const u2 = g.op('Mul', [a, g.scalar(6 * GELU_C * SQRT_2_OVER_PI)]);
      const inner = g.op('Sub', [u2, g.op('Mul', [g.op('Mul', [t, g.op('Mul', [u1, u1])]), g.scalar(2)])]);
      return g.op('Mul', [oneMinusT2, g.op('Add', [u1, g.op('Mul', [g.op('Mul', [a, g.scalar(0.5)]), inner])])]);
    }
  }
}

import { isDense, paramLayout, type NetworkSpec, type ParamLayout } from '@nnq/nn';
import { rBackward } from './activations-r';
import { emitCurvatureLayer, type CurvatureContext, type CurvatureLayer, type LayerParams } from './curvature-layers';
import { GraphBuilder } from './graph';
import { Converter, maskOf, type Value } from './network';
import { flatSlots, INPUT_X, INPUT_Y, type FlatSlot } from './training-graph';

/**
 * Curvature-vector products as one ONNX graph of standard operators, for a fixed batch size:
 * H v (Pearlmutter's R-operator) or G v = J^T H_out J v (Gauss-Newton), the equations of
 * libs/nn/src/second-order/curvature-network.ts written out op by op, for dense, conv2d, pooling
 * and flatten layers (each layer's passes: curvature-layers.ts).
 *
 * Inputs: x, y, kernel_n, bias_n (as the training graph) and the direction v_kernel_n, v_bias_n.
 * Outputs: kernel_n_hv, bias_n_hv (summed over the batch; masked entries exactly 0).
 *   forward     h(n) = f(a(n)),  a(n) = x(n) W(n) + b(n) or conv(x(n), W(n)) + b(n)
 *   R-forward   R h(n) = f'(a(n)) R a(n)                    (R h(0) = 0: inputs are data)
 *   R-backward  R delta(n) = f''(a) R a g(n) + f'(a) R g(n)   (softmax: activations-r.ts)
 *               g(n) = dJ/dh(n) and R g(n) gathered from the layers that read h(n)
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

export function buildCurvatureGraph(spec: NetworkSpec, batch: number, kind: CurvatureKind): CurvatureGraph {
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`batch must be a positive integer, got ${batch}`);
  const layout = paramLayout(spec);
  const { widths, shapes } = layout;
  const L = layout.layers.length;
  const K = widths[L];
  const g = new GraphBuilder(`nnq_${kind}_vector`);
  const slots = flatSlots(layout);
  const x = g.input(INPUT_X, [batch, widths[0]]);
  const y = g.input(INPUT_Y, [batch, K]);
  for (const s of slots) {
    g.input(s.name, s.dims);
    g.input(`v_${s.name}`, s.dims);
  }
  const hessian = kind === 'hessian';
  let ones: string | null = null;
  const convert = new Converter(g);
  const c: CurvatureContext = {
    g,
    batch,
    hessian,
    convert,
    ones: () => (ones ??= g.initializer('ones_batch', new Float32Array(batch).fill(1), [batch])),
  };

  // ---- forward and R-forward; R h(0) = 0 (null), and R h stays 0 through pooling of the input
  const h: Value[] = [{ name: x, nchw: false }];
  const rh: (Value | null)[] = [null];
  const layers: CurvatureLayer[] = [];
  for (const l of layout.layers) {
    const n = l.index;
    const layer = spec.layers[n - 1];
    // x(n) in the layout the layer computes in: flat for dense, NCHW for conv and pooling
    const image = isDense(layer) ? false : layer.kind === 'flatten' ? h[n - 1].nchw : true;
    const inLayout = (v: Value, k: number) => (image ? convert.nchw(v, shapes[k]) : convert.flat(v, shapes[k]));
    const skip = l.skip;
    const zeros = (k: number) => g.initializer(`zeros_h${k}`, new Float32Array(batch * widths[k]), [batch, widths[k]]);
    // x(n) = h(n-1), [h(n-1), h(from)] or h(n-1) + h(from); R x(n) the same of R h (null: 0)
    const xOf = (hs: readonly (Value | null)[]): string | null => {
      const prev = hs[n - 1] && inLayout(hs[n - 1]!, n - 1);
      if (!skip) return prev;
      const from = hs[skip.from];
      if (skip.mode === 'concat') {
        if (!prev && !from) return null;
        const tail = from ? convert.flat(from, shapes[skip.from]) : zeros(skip.from);
        return g.op('Concat', [prev ?? zeros(n - 1), tail], { axis: 1 });
      }
      const other = from && inLayout(from, skip.from);
      return prev && other ? g.op('Add', [prev, other]) : (prev ?? other);
    };
    const activation = isDense(layer) || layer.kind === 'conv2d' ? layer.activation : 'identity';
    const cl = emitCurvatureLayer(
      c,
      l,
      activation,
      { name: xOf(h)!, nchw: image },
      xOf(rh),
      params(g, spec, l),
      shapes[n - 1],
    );
    layers.push(cl);
    h.push(cl.h);
    rh.push(cl.rh);
  }

  // ---- delta(L) and R delta(L)
  const out = layers[L - 1];
  const hL = out.h.name;
  const rhL = rh[L]!.name;
  const regression = spec.loss === 'sum_of_squares' || spec.loss === 'mse';
  const cScale = spec.loss === 'mse' ? 2 / K : 1;
  const gL = g.op('Mul', [g.op('Sub', [hL, y]), g.scalar(cScale)]); // g(L) = c (h(L) - y)
  let delta: string;
  let rdelta: string | null = null;
  if (!hessian) {
    delta = regression ? out.act.backward(g.op('Mul', [rhL, g.scalar(cScale)])) : rhL;
  } else {
    delta = regression ? out.act.backward(gL) : g.op('Sub', [hL, y]); // cross-entropies: p - y
    rdelta = regression
      ? rBackward(g, out.activation, out.act, out.a, hL, gL, out.ra, g.op('Mul', [rhL, g.scalar(cScale)]))
      : rhL;
  }

  // ---- backward (and its R-pass for H v), down to the first layer with parameters
  const dh: Value[][] = widths.map(() => []);
  const rdh: Value[][] = widths.map(() => []);
  const firstParam = layout.layers.find((l) => l.kernelSize > 0)!.index;
  for (let n = L; n >= firstParam; n--) {
    const cl = layers[n - 1];
    if (n < L) {
      // g(n) = dJ/dh(n) in h(n)'s layout, from every layer that reads h(n)
      const sum = (vs: Value[]) =>
        vs.map((v) => convert.as(v, cl.h, shapes[n])).reduce((acc, v) => g.op('Add', [acc, v]));
      const gn = sum(dh[n]);
      // R delta(n) is read from g(n) before delta(n) = f'(a) g(n) is formed
      if (hessian) rdelta = rBackward(g, cl.activation, cl.act, cl.a, cl.h.name, gn, cl.ra, sum(rdh[n]));
      delta = cl.act.backward(gn);
    }
    const d = cl.backward(delta, rdelta, n > firstParam);
    if (!d) continue;
    route(g, layout, n, d.dx, dh);
    if (d.rdx) route(g, layout, n, d.rdx, rdh);
  }
  for (const s of slots) g.output(`${s.name}_hv`, s.dims);
  return { model: g.toModel(`${kind} vector product, batch ${batch}`), batch, layout, slots, kind };
}

/** The parameters and direction of layer l as graph values: dense kernels times their mask. */
function params(g: GraphBuilder, spec: NetworkSpec, l: ParamLayout['layers'][number]): LayerParams | null {
  if (l.kernelSize === 0) return null;
  const n = l.index;
  const m = maskOf(spec, n);
  const mask = m ? g.initializer(`mask_${n}`, m, [l.fanIn, l.units]) : null;
  const bias = l.biasOffset >= 0;
  return {
    // effective kernel and direction: W * mask, V * mask
    kernel: mask ? g.op('Mul', [`kernel_${n}`, mask]) : `kernel_${n}`,
    v: mask ? g.op('Mul', [`v_kernel_${n}`, mask]) : `v_kernel_${n}`,
    bias: bias ? `bias_${n}` : null,
    vBias: bias ? `v_bias_${n}` : null,
    keep: m ? g.boolInitializer(`keep_${n}`, m, [l.fanIn, l.units]) : null,
  };
}

/** dJ/dx(n) onto h(n-1) and, through a skip, onto h(from) (the input h(0) takes nothing). */
function route(g: GraphBuilder, layout: ParamLayout, n: number, dx: Value, into: Value[][]): void {
  const skip = layout.layers[n - 1].skip;
  const prev = layout.widths[n - 1];
  if (skip?.mode === 'concat') {
    // concat skips end at dense layers: dx is flat [batch, prev + width(from)]
    const part = (start: number, end: number): Value => ({
      name: g.op('Slice', [dx.name, g.int64s([start]), g.int64s([end]), g.int64s([1])]),
      nchw: false,
    });
    if (n > 1) into[n - 1].push(part(0, prev));
    if (skip.from > 0) into[skip.from].push(part(prev, prev + layout.widths[skip.from]));
    return;
  }
  if (n > 1) into[n - 1].push(dx);
  if (skip?.mode === 'add' && skip.from > 0) into[skip.from].push(dx);
}

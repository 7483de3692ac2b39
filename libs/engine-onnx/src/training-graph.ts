import { isDense, paramLayout, type NetworkSpec, type ParamLayout } from '@nnq/nn';
import { GraphBuilder } from './graph';
import type { EmittedActivation } from './activations';
import { emitForward, maskOf, type Value } from './network';

/** One parameter tensor of the flat layout, as a graph input (params) or output (gradient). */
export interface FlatSlot {
  /** Graph input name of the parameter; its gradient output is `${name}_grad`. */
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  readonly dims: readonly number[];
}

export interface TrainingGraph {
  /** Serialised ModelProto. */
  readonly model: Uint8Array;
  readonly batch: number;
  readonly layout: ParamLayout;
  /** Parameter inputs in flat-layout order; gradient outputs are `${slot.name}_grad`. */
  readonly slots: readonly FlatSlot[];
  /** Whether the graph has a `correct` output (classification losses). */
  readonly hasCorrect: boolean;
  /** How parameters enter and the gradient leaves the graph. */
  readonly feed: ParamFeed;
}

/**
 * 'views': one input per kernel / bias and one gradient output each, fed and fetched as
 * zero-copy views of the flat vectors (the default: measured fastest).
 * 'flat': one `params` [P] input sliced inside the graph and one `grad` [P] output (a Concat).
 */
export type ParamFeed = 'views' | 'flat';
export const INPUT_PARAMS = 'params';
export const OUTPUT_GRAD = 'grad';

export const INPUT_X = 'x';
export const INPUT_Y = 'y';
export const OUTPUT_LOSS = 'loss';
export const OUTPUT_CORRECT = 'correct';

/**
 * The slots of the flat layout: kernel_n [fanIn, units] then bias_n [units], for the layers n = 1..L
 * that have parameters (a conv kernel is HWIO [kh * kw * cin, filters]; pooling and flatten have none).
 */
export function flatSlots(layout: ParamLayout): FlatSlot[] {
  const slots: FlatSlot[] = [];
  for (const l of layout.layers) {
    if (l.kernelSize === 0) continue;
    slots.push({ name: `kernel_${l.index}`, offset: l.kernelOffset, size: l.kernelSize, dims: [l.fanIn, l.units] });
    if (l.biasOffset >= 0)
      slots.push({ name: `bias_${l.index}`, offset: l.biasOffset, size: l.biasSize, dims: [l.units] });
  }
  return slots;
}

/**
 * One training step as one ONNX graph, for a fixed batch size.
 *
 * Inputs: x [batch, inputSize], y [batch, K], kernel_n [fanIn, units], bias_n [units].
 * Outputs: loss (scalar, summed over the batch), correct (scalar count, classification losses only),
 * kernel_n_grad and bias_n_grad: dJ/dW(n) and dJ/db(n) summed over the batch.
 * The backward pass is the lecture's delta recursion, written out op by op.
 */
export function buildTrainingGraph(spec: NetworkSpec, batch: number, feed: ParamFeed = 'views'): TrainingGraph {
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`batch must be a positive integer, got ${batch}`);
  const layout = paramLayout(spec);
  const L = layout.layers.length;
  const K = layout.widths[L];
  const g = new GraphBuilder('nnq_training_step');
  const slots = flatSlots(layout);
  const x = g.input(INPUT_X, [batch, layout.widths[0]]);
  const y = g.input(INPUT_Y, [batch, K]);
  if (feed === 'flat') {
    const flat = g.input(INPUT_PARAMS, [layout.size]);
    for (const s of slots) {
      const slice = g.op('Slice', [flat, g.int64s([s.offset]), g.int64s([s.offset + s.size]), g.int64s([0])]);
      g.op('Reshape', [slice, g.int64s(s.dims)], {}, s.name);
    }
  } else {
    for (const s of slots) g.input(s.name, s.dims);
  }

  // ---- forward: effective kernel W * mask, then a(n) = x(n) W(n) + b(n), h(n) = f(a(n))
  const masks: (string | null)[] = [null];
  const keep: (string | null)[] = [null];
  for (const l of layout.layers) {
    const m = maskOf(spec, l.index);
    masks.push(m ? g.initializer(`mask_${l.index}`, m, [l.fanIn, l.units]) : null);
    keep.push(m ? g.boolInitializer(`keep_${l.index}`, m, [l.fanIn, l.units]) : null);
  }
  const fwd = emitForward(
    g,
    spec,
    layout,
    x,
    {
      kernel: (n) => (masks[n] ? g.op('Mul', [`kernel_${n}`, masks[n]!]) : `kernel_${n}`),
      bias: (n) => (layout.layers[n - 1].biasOffset >= 0 ? `bias_${n}` : null),
    },
    batch,
  );
  const aL = fwd.a[L];
  const out = fwd.h[L].name;

  // ---- loss J (summed over the batch) and delta(L) = dJ/da(L)
  let deltaL: string;
  let hasCorrect = false;
  const sumAll = (v: string, name?: string) => g.op('ReduceSum', [v], { keepdims: 0 }, name);
  const outAct = fwd.act[L];
  switch (spec.loss) {
    case 'sum_of_squares': {
      const e = outMinusY(g, outAct, y); // dJ/dout = out - y
      g.op('Mul', [sumAll(g.op('Mul', [e, e])), g.scalar(0.5)], {}, OUTPUT_LOSS); // J = 1/2 sum (y - out)^2
      deltaL = fwd.act[L].backward(e);
      break;
    }
    case 'mse': {
      const e = outMinusY(g, outAct, y);
      g.op('Mul', [sumAll(g.op('Mul', [e, e])), g.scalar(1 / K)], {}, OUTPUT_LOSS); // J = 1/K sum (y - out)^2
      deltaL = fwd.act[L].backward(g.op('Mul', [e, g.scalar(2 / K)])); // dJ/dout = 2/K (out - y)
      break;
    }
    case 'softmax_cross_entropy': {
      // J = -sum_k y_k log p_k from the logits; delta(L) = p - y. Written so that confident
      // predictions (p_k near 1) lose no digits, with only same-shape or scalar broadcasts:
      //   1 - p_k = sum_{j != k} p_j                      (one small MatMul with ones - I, emitSoftmax)
      //   log p_k = log1p(-(1 - p_k)) where p_k > 1/2, log_softmax(a)_k elsewhere
      //   p - y = p (1 - y) - y (1 - p)
      if (!outAct.complement) throw new Error('softmax_cross_entropy needs a softmax output layer');
      const comp = outAct.complement();
      const logp = g.op('Where', [
        g.op('Greater', [out, g.scalar(0.5)]),
        log1pNeg(g, comp),
        g.op('LogSoftmax', [aL], { axis: -1 }),
      ]);
      g.op('Neg', [sumAll(g.op('Mul', [y, logp]))], {}, OUTPUT_LOSS);
      deltaL = outMinusY(g, outAct, y);
      // correct: argmax(out) == argmax(y), first maximum wins
      const hit = g.op('Equal', [
        g.op('ArgMax', [out], { axis: 1, keepdims: 0 }),
        g.op('ArgMax', [y], { axis: 1, keepdims: 0 }),
      ]);
      sumAll(g.op('Cast', [hit], { to: 1 }), OUTPUT_CORRECT);
      hasCorrect = true;
      break;
    }
    case 'sigmoid_binary_cross_entropy': {
      // J = sum_k max(a,0) - a y + log1p(exp(-|a|)); delta(L) = p - y
      const terms = g.op('Add', [
        g.op('Sub', [g.op('Relu', [aL]), g.op('Mul', [aL, y])]),
        g.op('Softplus', [g.op('Neg', [g.op('Abs', [aL])])]),
      ]);
      sumAll(terms, OUTPUT_LOSS);
      // p - y = sigmoid(a) (1 - y) - y sigmoid(-a): cancellation-free for 0/1 labels
      deltaL = outMinusY(g, outAct, y);
      // correct: (out >= 0.5) == (y >= 0.5) on every unit of the sample
      const half = g.scalar(0.5);
      const match = g.op('Equal', [g.op('GreaterOrEqual', [out, half]), g.op('GreaterOrEqual', [y, half])]);
      let perSample = g.op('Cast', [match], { to: 1 });
      if (K > 1) perSample = g.op('ReduceMin', [perSample], { axes: [1], keepdims: 0 });
      sumAll(perSample, OUTPUT_CORRECT);
      hasCorrect = true;
      break;
    }
  }
  g.output(OUTPUT_LOSS, []);
  if (hasCorrect) g.output(OUTPUT_CORRECT, []);

  // ---- backward: for n = L..1
  //   dense:  dJ/dW(n) = x(n)^T delta(n) (times the mask), dJ/db(n) = sum over the batch of delta(n),
  //           dJ/dx(n) = delta(n) W(n)^T
  //   conv2d: the same sums over every place a shared weight is used (conv-graph.ts)
  //   pooling: dJ/dx(n) routes delta(n) to the arg-max / spreads it over the window; flatten: reshapes
  //   dJ/dx(n) is split / shared back onto h(n-1) and h(from); delta(n-1) = f'(a(n-1)) * dJ/dh(n-1)
  // Layers before the first one with parameters need no delta: the recursion stops there.
  const dh: Value[][] = layout.widths.map(() => []);
  const firstParam = layout.layers.find((l) => l.kernelSize > 0)?.index ?? L;
  let ones: string | null = null;
  let delta = deltaL;
  for (let n = L; n >= 1; n--) {
    const l = layout.layers[n - 1];
    const layer = spec.layers[n - 1];
    const xn = fwd.x[n].name;
    const kGrad = `kernel_${n}_grad`;
    const bGrad = l.biasOffset >= 0 ? `bias_${n}_grad` : null;
    const needDx = n > firstParam;
    let dx: Value | null = null;
    if (isDense(layer)) {
      // masked entries are exactly +0 (Where, not Mul, which would leave -0)
      if (keep[n]) g.op('Where', [keep[n]!, g.op('Gemm', [xn, delta], { transA: 1 }), g.scalar(0)], {}, kGrad);
      else g.op('Gemm', [xn, delta], { transA: 1 }, kGrad);
      if (bGrad) {
        // ones[batch] delta: a GEMV, faster in onnxruntime than ReduceSum over axis 0
        ones ??= g.initializer('ones_batch', new Float32Array(batch).fill(1), [batch]);
        g.op('MatMul', [ones, delta], {}, bGrad);
      }
      if (needDx) dx = { name: g.op('Gemm', [delta, fwd.kernel[n]], { transB: 1 }), nchw: false };
    } else if (layer.kind === 'flatten') {
      if (needDx) dx = { name: delta, nchw: false };
    } else {
      // conv (its kernel and bias gradients) and pooling: conv-graph.ts
      const d = fwd.backward[n]!(delta, needDx);
      if (d) dx = { name: d, nchw: true };
    }
    if (!dx) break;
    const prev = layout.widths[n - 1];
    if (l.skip?.mode === 'concat') {
      const from = l.skip.from;
      if (from === 0) {
        dh[n - 1].push({ name: g.op('Slice', [dx.name, g.int64s([0]), g.int64s([prev]), g.int64s([1])]), nchw: false });
      } else {
        const parts = g.opMulti(
          'Split',
          [dx.name, g.int64s([prev, layout.widths[from]])],
          [`${dx.name}_a`, `${dx.name}_b`],
          {
            axis: 1,
          },
        );
        dh[n - 1].push({ name: parts[0], nchw: false });
        dh[from].push({ name: parts[1], nchw: false });
      }
    } else {
      dh[n - 1].push(dx);
      if (l.skip?.mode === 'add' && l.skip.from > 0) dh[l.skip.from].push(dx);
    }
    // dJ/dh(n-1): from layer n, plus from the skip h(n-1) -> n+1 (already visited), in h(n-1)'s layout
    const target = fwd.h[n - 1];
    const sum = dh[n - 1]
      .map((v) => fwd.convert.as(v, target, layout.shapes[n - 1]))
      .reduce((acc, v) => g.op('Add', [acc, v]));
    delta = fwd.act[n - 1].backward(sum);
  }
  if (feed === 'flat') {
    const flatGrads = slots.map((s) => g.op('Reshape', [`${s.name}_grad`, g.int64s([-1])]));
    g.op('Concat', flatGrads, { axis: 0 }, OUTPUT_GRAD);
    g.output(OUTPUT_GRAD, [layout.size]);
  } else {
    for (const s of slots) g.output(`${s.name}_grad`, s.dims);
  }
  return { model: g.toModel(`training step, batch ${batch}`), batch, layout, slots, hasCorrect, feed };
}

/** log(1 - c) for 0 <= c < 1/2 without losing c's digits: log(u) * c / (u - 1), u = 1 - c (Goldberg). */
function log1pNeg(g: GraphBuilder, c: string): string {
  const u = g.op('Sub', [g.scalar(1), c]);
  const d = g.op('Sub', [u, g.scalar(1)]); // exact (Sterbenz) for u in [1/2, 1]
  // where u rounds to 1, log(1 - c) = -c to working precision (the other branch divides by 0, unused)
  const ratio = g.op('Div', [g.op('Mul', [g.op('Log', [u]), c]), d]);
  return g.op('Where', [g.op('Equal', [d, g.scalar(0)]), g.op('Neg', [c]), g.op('Neg', [ratio])]);
}

/**
 * out - y, the derivative of the squared losses and delta(L) of the cross entropies. Where the output
 * activation is bounded by 1 (softmax, sigmoid) it is h (1 - y) - y (1 - h) with 1 - h from its
 * complement: exact for 0/1 targets where h is near 1, where out - y would keep only float32's
 * digits of 1 - h (at h = 0.99992 the ulp of h is 7.5e-4 of 1 - h).
 */
function outMinusY(g: GraphBuilder, act: EmittedActivation, y: string): string {
  if (!act.complement) return g.op('Sub', [act.h, y]);
  return g.op('Sub', [g.op('Mul', [act.h, g.op('Sub', [g.scalar(1), y])]), g.op('Mul', [y, act.complement()])]);
}

import { activationOf, isDense, type NetworkSpec, type ParamLayout } from '@nnq/nn';
import { emitActivation, type EmittedActivation } from './activations';
import type { GraphBuilder } from './graph';

/** Names of the per-layer values the forward pass produced (index n = 1..L; index 0 unused except h). */
export interface EmittedForward {
  /** x(n): the layer input (h(n-1), or with its skip concatenated / added). */
  readonly x: string[];
  /** a(n) = x(n) W(n) + b(n). */
  readonly a: string[];
  /** h(n) = f(a(n)); h[0] is the network input. */
  readonly h: string[];
  readonly act: EmittedActivation[];
  /** Effective kernels W(n) * mask(n), as used by the forward pass (and the backward pass). */
  readonly kernel: string[];
}

/** Where the parameters of layer n come from: graph inputs or initializers, already masked or not. */
export interface ParamSource {
  kernel(n: number): string;
  bias(n: number): string | null;
}

/**
 * Dense layers 1..L: x(n) = h(n-1) (or [h(n-1), h(from)] / h(n-1) + h(from) where a skip ends),
 * a(n) = x(n) W(n) + b(n) with W(n) [fanIn, units], h(n) = f(a(n)).
 */
export function emitForward(
  g: GraphBuilder,
  spec: NetworkSpec,
  layout: ParamLayout,
  input: string,
  params: ParamSource,
): EmittedForward {
  const x: string[] = [''];
  const a: string[] = [''];
  const h: string[] = [input];
  const act: EmittedActivation[] = [{ h: input, backward: (d) => d }];
  const kernel: string[] = [''];
  for (const l of layout.layers) {
    const n = l.index;
    let xn = h[n - 1];
    if (l.skip?.mode === 'concat') xn = g.op('Concat', [h[n - 1], h[l.skip.from]], { axis: 1 });
    if (l.skip?.mode === 'add') xn = g.op('Add', [h[n - 1], h[l.skip.from]]);
    const w = params.kernel(n);
    const b = params.bias(n);
    // a(n) = x(n) W(n) + b(n)
    const an = b ? g.op('Gemm', [xn, w, b]) : g.op('MatMul', [xn, w]);
    const f = emitActivation(g, activationOf(spec.layers[n - 1]), an, l.units);
    x.push(xn);
    a.push(an);
    h.push(f.h);
    act.push(f);
    kernel.push(w);
  }
  return { x, a, h, act, kernel };
}

/** The mask of layer n as a flat [fanIn * units] Float32Array of 0/1, or null. */
export function maskOf(spec: NetworkSpec, n: number): Float32Array | null {
  const layer = spec.layers[n - 1];
  if (!isDense(layer) || !layer.mask) return null;
  const { mask, units } = layer;
  const m = new Float32Array(mask.length * units);
  mask.forEach((row, i) => row.forEach((v, k) => (m[i * units + k] = v)));
  return m;
}

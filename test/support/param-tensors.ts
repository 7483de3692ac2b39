/**
 * Test helpers for comparing and filling flat parameter vectors (libs/nn's layout), tensor by
 * tensor: the norm-wise relative error, the tensors of a spec, the tensors that disagree, and
 * weights under masks. A test fixture: it lives outside src/, so the build does not ship it.
 */
import { flatMask, paramLayout, type NetworkSpec, type Rng } from '@nnq/nn';

/** ||a - b|| / max(||b||, floor): the norm-wise relative error. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-6): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    d += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  return Math.sqrt(d) / Math.max(Math.sqrt(n), floor);
}
/** One parameter tensor of libs/nn's flat layout: a kernel's own rows, its concat-skip rows, a bias. */
export interface ParamTensor {
  name: string;
  from: number;
  to: number;
}

/**
 * Layer n's kernel (rows of h(n-1)), the rows a concat skip adds to it, and its bias, in flat order
 * (a conv kernel is one tensor; pooling and flatten layers have none).
 */
export function paramTensors(spec: NetworkSpec): ParamTensor[] {
  const layout = paramLayout(spec);
  return layout.layers.flatMap((l) => {
    if (l.kernelSize === 0) return [];
    const own = l.kind === 'dense' ? layout.widths[l.index - 1] * l.units : l.kernelSize;
    const out: ParamTensor[] = [{ name: `kernel_${l.index}`, from: l.kernelOffset, to: l.kernelOffset + own }];
    if (own < l.kernelSize) {
      const to = l.kernelOffset + l.kernelSize;
      out.push({ name: `kernel_${l.index} rows of skip from h(${l.skip!.from})`, from: l.kernelOffset + own, to });
    }
    if (l.biasSize > 0) out.push({ name: `bias_${l.index}`, from: l.biasOffset, to: l.biasOffset + l.biasSize });
    return out;
  });
}

/**
 * The tensors whose norm-wise relative error `got` against `want` is `tol` or more, each with its
 * error: compared one by one, so an error in a small bias or a skip's rows cannot hide in the
 * norm of the whole vector. Empty when all agree.
 */
export function tensorMismatches(
  spec: NetworkSpec,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: number,
): string[] {
  const slice = (v: ArrayLike<number>, t: ParamTensor) => Array.prototype.slice.call(v, t.from, t.to) as number[];
  return paramTensors(spec)
    .map((t) => ({ t, err: relErr(slice(got, t), slice(want, t)) }))
    .filter(({ err }) => !(err < tol))
    .map(({ t, err }) => `${t.name}: relative error ${err.toExponential(2)}`);
}

/**
 * Non-zero weights N(0, 1) under every mask's zeros: the forward pass must ignore them and their
 * gradient must be exactly 0 (libs/nn: a 0 removes the connection). initParams writes 0 there,
 * which would let a graph that drops its masks pass.
 */
export function fillMasked<T extends Float32Array | Float64Array>(spec: NetworkSpec, params: T, rng: Rng): T {
  const mask = flatMask(spec);
  mask?.forEach((m, i) => {
    if (m === 0) params[i] = rng.normal() || 1;
  });
  return params;
}

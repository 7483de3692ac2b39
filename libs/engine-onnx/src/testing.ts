/**
 * Test helpers shared by the specs of this package (not exported from index.ts): the lecture's
 * XOR network in float32 (defined once, in test/support/xor.ts), a fast-check generator of valid
 * network specs, batches fitting a loss, the norm-wise relative error, gradients compared tensor
 * by tensor, and weights under masks.
 */
import {
  ACTIVATIONS,
  createRng,
  flatMask,
  paramLayout,
  parseSpec,
  type Activation,
  type Loss,
  type NetworkSpec,
  type NetworkSpecInput,
  type Rng,
} from '@nnq/nn';
import fc from 'fast-check';
import * as xor from '../../../test/support/xor';

/** The lecture's XOR network (test/support/xor.ts), its solution, inputs and targets in float32. */
export const XOR_SPEC: NetworkSpecInput = xor.XOR_SPEC;
export const XOR_PARAMS = Float32Array.from(xor.XOR_PARAMS);
export const XOR_X = Float32Array.from(xor.XOR_X);
export const XOR_Y = Float32Array.from(xor.XOR_Y);

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

export const HIDDEN: Activation[] = ACTIVATIONS.filter((a) => a !== 'softmax');

/** A random valid spec: 1-4 dense layers, any activation/loss pairing, masks and skips. */
export const specArb: fc.Arbitrary<NetworkSpec> = fc
  .record({
    inputSize: fc.integer({ min: 1, max: 6 }),
    units: fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 4 }),
    acts: fc.array(fc.constantFrom(...HIDDEN), { minLength: 4, maxLength: 4 }),
    biases: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    loss: fc.constantFrom<Loss>('sum_of_squares', 'mse', 'softmax_cross_entropy', 'sigmoid_binary_cross_entropy'),
    regressionOut: fc.constantFrom<Activation>(...ACTIVATIONS),
    skips: fc.array(fc.constantFrom<'none' | 'concat' | 'add'>('none', 'concat', 'add'), {
      minLength: 4,
      maxLength: 4,
    }),
    masked: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    seed: fc.integer(),
  })
  .map((r) => {
    const L = r.units.length;
    const widths = [r.inputSize, ...r.units];
    const outAct: Activation =
      r.loss === 'softmax_cross_entropy'
        ? 'softmax'
        : r.loss === 'sigmoid_binary_cross_entropy'
          ? 'sigmoid'
          : r.regressionOut;
    if (outAct === 'softmax' && widths[L] === 1) widths[L] = 2;
    const skips: NonNullable<NetworkSpecInput['skips']> = [];
    for (let to = 2; to <= L; to++) {
      const mode = r.skips[to - 1];
      if (mode === 'none') continue;
      if (mode === 'add' && widths[to - 2] !== widths[to - 1]) continue;
      skips.push({ from: to - 2, to, mode });
    }
    const rng = createRng(r.seed);
    const layers = widths.slice(1).map((units, k) => {
      const n = k + 1;
      const skip = skips.find((s) => s.to === n);
      const fanIn = widths[n - 1] + (skip?.mode === 'concat' ? widths[skip.from] : 0);
      const mask = r.masked[k]
        ? Array.from({ length: fanIn }, () => Array.from({ length: units }, () => (rng.next() < 0.7 ? 1 : 0) as 0 | 1))
        : undefined;
      return { units, activation: n === L ? outAct : r.acts[k], useBias: r.biases[k], mask };
    });
    return parseSpec({ inputSize: r.inputSize, layers, skips, loss: r.loss });
  });

/** Inputs and targets fitting the loss: one-hot rows, 0/1 labels or real targets. */
export function randomBatch(spec: NetworkSpec, batch: number, rng: Rng): { x: Float32Array; y: Float32Array } {
  const K = spec.layers[spec.layers.length - 1].units;
  const x = Float32Array.from({ length: batch * spec.inputSize }, () => rng.normal());
  const y = new Float32Array(batch * K);
  for (let r = 0; r < batch; r++) {
    if (spec.loss === 'softmax_cross_entropy') y[r * K + rng.int(K)] = 1;
    else
      for (let k = 0; k < K; k++)
        y[r * K + k] = spec.loss === 'sigmoid_binary_cross_entropy' ? rng.int(2) : rng.normal();
  }
  return { x, y };
}

/** One parameter tensor of libs/nn's flat layout: a kernel's own rows, its concat-skip rows, a bias. */
export interface ParamTensor {
  name: string;
  from: number;
  to: number;
}

/** Layer n's kernel (rows of h(n-1)), the rows a concat skip adds to it, and its bias, in flat order. */
export function paramTensors(spec: NetworkSpec): ParamTensor[] {
  const layout = paramLayout(spec);
  return layout.layers.flatMap((l) => {
    const own = layout.widths[l.index - 1] * l.units;
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

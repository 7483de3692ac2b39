/**
 * The one generator of random networks for the property tests of libs/nn and libs/engine-onnx:
 * a fast-check arbitrary of valid specs covering every activation, loss, mask and skip, and the
 * random parameters and data they run on. A test fixture: it lives outside src/, so the build
 * does not ship it.
 */
import {
  ACTIVATIONS,
  createRng,
  outputUnits,
  paramLayout,
  parseSpec,
  type Activation,
  type Loss,
  type NetworkSpec,
  type NetworkSpecInput,
  type Rng,
} from '@nnq/nn';
import fc from 'fast-check';

export const HIDDEN: Activation[] = ACTIVATIONS.filter((a) => a !== 'softmax');

/**
 * A random valid spec: 1-4 dense layers, any activation/loss pairing, masks and skips. A softmax
 * output has at least 2 units (one unit is the constant 1 with a zero gradient: it would test nothing).
 */
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

export interface RandomCase {
  spec: NetworkSpec;
  batch: number;
  /** Seed for parameters and data. */
  seed: number;
}

/** A random spec with a batch size of 1-5 and a seed for its parameters and data. */
export const randomCase: fc.Arbitrary<RandomCase> = fc.record({
  spec: specArb,
  batch: fc.integer({ min: 1, max: 5 }),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});

/** Inputs and targets fitting the loss, in float32: one-hot rows, 0/1 labels or real targets. */
export function randomBatch(spec: NetworkSpec, batch: number, rng: Rng): { x: Float32Array; y: Float32Array } {
  const K = outputUnits(spec);
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

/**
 * Inputs and targets fitting the loss, in float64, with soft targets: probability rows for
 * softmax, [0,1] for sigmoid, so a gradient check also sees targets that are not one-hot.
 */
export function randomData(spec: NetworkSpec, batch: number, rng: Rng): { x: Float64Array; y: Float64Array } {
  const K = outputUnits(spec);
  const x = Float64Array.from({ length: batch * spec.inputSize }, () => rng.normal());
  const y = new Float64Array(batch * K);
  for (let r = 0; r < batch; r++) {
    if (spec.loss === 'softmax_cross_entropy') {
      let s = 0;
      for (let k = 0; k < K; k++) s += y[r * K + k] = rng.next() + 0.1;
      for (let k = 0; k < K; k++) y[r * K + k] /= s;
    } else if (spec.loss === 'sigmoid_binary_cross_entropy') {
      for (let k = 0; k < K; k++) y[r * K + k] = rng.next();
    } else {
      for (let k = 0; k < K; k++) y[r * K + k] = rng.normal();
    }
  }
  return { x, y };
}

/** Random parameters N(0, 0.8^2), biases included (so no pre-activation sits exactly at a kink). */
export function randomParams(size: number, rng: Rng): Float64Array {
  return Float64Array.from({ length: size }, () => 0.8 * rng.normal());
}

/**
 * A random valid CNN spec with small shapes (so a finite-difference check of every parameter
 * runs in seconds): an input of 2-6 x 2-6 x 1-2, then 1-3 conv2d / maxPool2d / avgPool2d layers
 * (kernels and pools 1-3 per axis, strides 1-2, valid or same padding; valid turns same where the
 * window would not fit), sometimes an add skip around a shape-keeping layer, a flatten, and 1-2
 * dense layers (a concat skip from the flatten into the second), with any activation/loss pairing.
 */
export const cnnSpecArb: fc.Arbitrary<NetworkSpec> = fc
  .record({
    input: fc.tuple(fc.integer({ min: 2, max: 6 }), fc.integer({ min: 2, max: 6 }), fc.integer({ min: 1, max: 2 })),
    spatial: fc.array(
      fc.record({
        kind: fc.constantFrom<'conv2d' | 'maxPool2d' | 'avgPool2d'>('conv2d', 'conv2d', 'maxPool2d', 'avgPool2d'),
        filters: fc.integer({ min: 1, max: 3 }),
        size: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
        strides: fc.option(fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 }))),
        same: fc.boolean(),
        activation: fc.constantFrom(...HIDDEN),
        useBias: fc.boolean(),
      }),
      { minLength: 1, maxLength: 3 },
    ),
    addSkip: fc.boolean(),
    dense: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 2 }),
    acts: fc.tuple(fc.constantFrom(...HIDDEN), fc.constantFrom<Activation>(...ACTIVATIONS)),
    concat: fc.boolean(),
    loss: fc.constantFrom<Loss>('sum_of_squares', 'mse', 'softmax_cross_entropy', 'sigmoid_binary_cross_entropy'),
  })
  .map((r) => {
    let shape: [number, number, number] = [...r.input];
    const layers: NonNullable<NetworkSpecInput['layers']> = [];
    const shapes: [number, number, number][] = [shape];
    for (const s of r.spatial) {
      const strides = s.strides ?? undefined;
      const [sh, sw] = strides ?? (s.kind === 'conv2d' ? [1, 1] : s.size);
      const fits = s.size[0] <= shape[0] && s.size[1] <= shape[1];
      const padding = s.same || !fits ? 'same' : 'valid';
      const out = (n: number, k: number, st: number) =>
        padding === 'same' ? Math.ceil(n / st) : Math.floor((n - k) / st) + 1;
      const common = { strides: strides ?? undefined, padding } as const;
      if (s.kind === 'conv2d') {
        layers.push({
          kind: 'conv2d',
          filters: s.filters,
          kernelSize: s.size,
          activation: s.activation,
          useBias: s.useBias,
          ...common,
        });
        shape = [out(shape[0], s.size[0], sh), out(shape[1], s.size[1], sw), s.filters];
      } else {
        layers.push({ kind: s.kind, poolSize: s.size, ...common });
        shape = [out(shape[0], s.size[0], sh), out(shape[1], s.size[1], sw), shape[2]];
      }
      shapes.push(shape);
    }
    const skips: NonNullable<NetworkSpecInput['skips']> = [];
    // an add skip from n - 2 to n where h(n - 2) and h(n - 1) have the same shape
    if (r.addSkip) {
      // layer n (a spatial layer or the flatten at S + 1) takes h(n - 1) + h(n - 2)
      const i = shapes.findIndex((s, k) => k >= 1 && s.every((d, j) => d === shapes[k - 1][j]));
      if (i >= 1) skips.push({ from: i - 1, to: i + 1, mode: 'add' });
    }
    layers.push({ kind: 'flatten' });
    const flattenAt = layers.length;
    const outAct: Activation =
      r.loss === 'softmax_cross_entropy'
        ? 'softmax'
        : r.loss === 'sigmoid_binary_cross_entropy'
          ? 'sigmoid'
          : r.acts[1];
    r.dense.forEach((units, k) => {
      const last = k === r.dense.length - 1;
      const u = last && outAct === 'softmax' ? Math.max(units, 2) : units;
      layers.push({ units: u, activation: last ? outAct : r.acts[0] });
    });
    if (r.concat && r.dense.length === 2) skips.push({ from: flattenAt, to: flattenAt + 2, mode: 'concat' });
    return parseSpec({ inputShape: r.input, layers, skips, loss: r.loss });
  });

/** A random CNN spec with a batch size of 1-3 and a seed for its parameters and data. */
export const randomCnnCase: fc.Arbitrary<RandomCase> = fc.record({
  spec: cnnSpecArb,
  batch: fc.integer({ min: 1, max: 3 }),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});

/**
 * A CNN whose max-pool windows hold several equal maxima: with inputs in {0, 1} and the ones
 * kernel of `tieParams`, most windows of both pools tie (the first arg-max must take the delta).
 */
export const tiedPoolsSpec = (): NetworkSpec =>
  parseSpec({
    inputShape: [6, 6, 2],
    layers: [
      { kind: 'maxPool2d', poolSize: 2, strides: 1, padding: 'same' },
      { kind: 'conv2d', filters: 2, kernelSize: 2, activation: 'relu' },
      { kind: 'maxPool2d', poolSize: [3, 2], strides: [2, 1] },
      { kind: 'flatten' },
      { units: 3, activation: 'softmax' },
    ],
    loss: 'softmax_cross_entropy',
  });

/** tiedPoolsSpec's conv kernel all 0.5 and its bias 0, in place. */
export function tieParams(spec: NetworkSpec, params: Float32Array): void {
  const conv = paramLayout(spec).layers[1];
  params.fill(0.5, conv.kernelOffset, conv.kernelOffset + conv.kernelSize);
  params.fill(0, conv.biasOffset, conv.biasOffset + conv.biasSize);
}

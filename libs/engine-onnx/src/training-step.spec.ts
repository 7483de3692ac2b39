import {
  ACTIVATIONS,
  createRng,
  flatMask,
  initParams,
  lossAndGrad,
  paramLayout,
  parseSpec,
  type Activation,
  type Loss,
  type NetworkSpec,
  type NetworkSpecInput,
  type Rng,
} from '@nnq/nn';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { buildTrainingGraph } from './training-graph';
import { compileTrainingStep, type OnnxTrainingStep } from './training-step';

/** The lecture's XOR network: relu hidden layer, identity output, sum of squares. */
export const XOR_SPEC: NetworkSpecInput = {
  inputSize: 2,
  layers: [
    { units: 2, activation: 'relu' },
    { units: 1, activation: 'identity' },
  ],
  loss: 'sum_of_squares',
};
// W = [[1,1],[1,1]], c = [0,-1], w = [1,-2], b = 0
export const XOR_PARAMS = Float32Array.of(1, 1, 1, 1, 0, -1, 1, -2, 0);
export const XOR_X = Float32Array.of(0, 0, 0, 1, 1, 0, 1, 1);
export const XOR_Y = Float32Array.of(0, 1, 1, 0);

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

const HIDDEN: Activation[] = ACTIVATIONS.filter((a) => a !== 'softmax');

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
      return { units, activation: n === L ? outAct : r.acts[k], useBias: r.biases[k] || n === L, mask };
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

const steps: OnnxTrainingStep[] = [];
afterAll(async () => {
  await Promise.all(steps.map((s) => s.dispose()));
});
function compile(spec: NetworkSpec): OnnxTrainingStep {
  const s = compileTrainingStep(spec);
  steps.push(s);
  return s;
}

describe('compileTrainingStep: the lecture XOR network', () => {
  const spec = parseSpec(XOR_SPEC);

  it('fits XOR exactly: loss 0 and zero gradient, bit for bit like libs/nn', async () => {
    const step = compile(spec);
    const r = await step.run(XOR_PARAMS, XOR_X, XOR_Y, 4);
    const ref = lossAndGrad(spec, XOR_PARAMS, XOR_X, XOR_Y, 4);
    expect(r.loss).toBe(0);
    expect(r.correct).toBe(0);
    expect(Array.from(r.grad)).toEqual(Array.from(ref.grad));
    expect(r.grad.every((v) => v === 0)).toBe(true);
  });

  it.each([
    ['AND targets', Float32Array.of(0, 0, 0, 1)],
    ['inverted targets', Float32Array.of(1, 0, 0, 1)],
    ['scaled targets', Float32Array.of(2, -1, 3, 0.5)],
  ])('matches libs/nn bit for bit on %s', async (_name, y) => {
    const step = compile(spec);
    const r = await step.run(XOR_PARAMS, XOR_X, y, 4);
    const ref = lossAndGrad(spec, XOR_PARAMS, XOR_X, y, 4);
    expect(r.loss).toBe(ref.loss);
    expect(Array.from(r.grad)).toEqual(Array.from(ref.grad));
  });

  it('writes into a given gradient buffer and rejects wrong lengths', async () => {
    const step = compile(spec);
    const grad = new Float32Array(9).fill(7);
    const r = await step.run(XOR_PARAMS, XOR_X, Float32Array.of(1, 0, 0, 1), 4, grad);
    expect(r.grad).toBe(grad);
    expect(grad[6]).not.toBe(7);
    await expect(step.run(XOR_PARAMS.subarray(1), XOR_X, XOR_Y, 4)).rejects.toThrow(/params has 8 values, expected 9/);
    await expect(step.run(XOR_PARAMS, XOR_X, XOR_Y, 3)).rejects.toThrow(/x has 8 values, expected 6 \(batch 3/);
    await expect(step.run(XOR_PARAMS, XOR_X, XOR_Y, 4, new Float32Array(2))).rejects.toThrow(/grad has 2 values/);
    expect(() => step.graph(0)).toThrow(/batch must be a positive integer/);
  });
});

describe('compileTrainingStep: random specs against libs/nn', () => {
  it('has the same loss, correct count and gradient (norm-wise 1e-5) on every activation, loss, mask and skip', async () => {
    await fc.assert(
      fc.asyncProperty(specArb, fc.integer({ min: 1, max: 9 }), fc.integer(), async (spec, batch, seed) => {
        const rng = createRng(seed);
        const params = initParams(spec, rng, 'glorot_uniform');
        // biases nonzero too, so every path of the graph carries signal
        for (const l of paramLayout(spec).layers) {
          for (let i = 0; i < l.biasSize; i++) params[l.biasOffset + i] = 0.3 * rng.normal();
        }
        const { x, y } = randomBatch(spec, batch, rng);
        const step = compileTrainingStep(spec);
        try {
          const r = await step.run(params, x, y, batch);
          const ref = lossAndGrad(spec, params, x, y, batch);
          expect(relErr([r.loss], [ref.loss], 1e-3)).toBeLessThan(1e-5);
          expect(r.correct).toBe(ref.correct);
          expect(relErr(r.grad, ref.grad)).toBeLessThan(1e-5);
          const mask = flatMask(spec);
          if (mask) mask.forEach((m, i) => m === 0 && expect(r.grad[i]).toBe(0));
        } finally {
          await step.dispose();
        }
      }),
      { numRuns: 150 },
    );
  });

  it('covers every activation and loss (the generator is not lopsided)', () => {
    const seen = new Set<string>();
    fc.sample(specArb, { numRuns: 300, seed: 1 }).forEach((s) => {
      s.layers.forEach((l) => seen.add(l.activation));
      seen.add(s.loss);
      s.skips.forEach((k) => seen.add(k.mode));
      if (s.layers.some((l) => l.mask)) seen.add('mask');
    });
    for (const k of [
      ...ACTIVATIONS,
      'sum_of_squares',
      'mse',
      'softmax_cross_entropy',
      'sigmoid_binary_cross_entropy',
    ]) {
      expect(seen).toContain(k);
    }
    expect(seen).toContain('concat');
    expect(seen).toContain('add');
    expect(seen).toContain('mask');
  });

  it('builds identical model bytes for the same spec and batch', () => {
    const spec = fc.sample(specArb, { numRuns: 1, seed: 7 })[0];
    expect(Buffer.from(buildTrainingGraph(spec, 5).model).equals(Buffer.from(buildTrainingGraph(spec, 5).model))).toBe(
      true,
    );
  });
});

import {
  ACTIVATIONS,
  createRng,
  flatMask,
  initParams,
  lossAndGrad,
  paramLayout,
  parseSpec,
  type NetworkSpec,
} from '@nnq/nn';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { buildTrainingGraph } from './training-graph';
import { compileTrainingStep, type OnnxTrainingStep } from './training-step';
import { XOR_PARAMS, XOR_SPEC, XOR_X, XOR_Y, randomBatch, relErr, specArb } from './testing';

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

describe('compileTrainingStep: parameter feeds', () => {
  it("gives the same bytes with feed 'flat' (one vector sliced in the graph) as with per-layer views", async () => {
    for (const spec of fc.sample(specArb, { numRuns: 20, seed: 3 })) {
      const rng = createRng(5);
      const params = initParams(spec, rng);
      const { x, y } = randomBatch(spec, 4, rng);
      const views = compile(spec);
      const flat = compileTrainingStep(spec, { feed: 'flat' });
      steps.push(flat);
      const a = await views.run(params, x, y, 4);
      const b = await flat.run(params, x, y, 4);
      expect(b.loss).toBe(a.loss);
      expect(Buffer.from(b.grad.buffer).equals(Buffer.from(a.grad.buffer))).toBe(true);
    }
  });

  it('keeps one session per batch size and evicts the least recently used', async () => {
    const spec = parseSpec(XOR_SPEC);
    const step = compileTrainingStep(spec, { maxSessions: 2 });
    steps.push(step);
    const s1 = await step.session(1);
    expect(await step.session(1)).toBe(s1);
    await step.session(2);
    await step.session(3); // evicts batch 1
    expect(await step.session(1)).not.toBe(s1);
    const r = await step.run(XOR_PARAMS, XOR_X.subarray(0, 2), XOR_Y.subarray(0, 1), 1);
    expect(r.loss).toBe(0);
  });

  it('does not release a session that an evicting concurrent run still uses', async () => {
    const spec = parseSpec(XOR_SPEC);
    const step = compileTrainingStep(spec, { maxSessions: 1 });
    steps.push(step);
    const y = Float32Array.of(1, 0, 0, 1);
    const runs = [1, 2, 3, 4, 1, 3].map((b) => step.run(XOR_PARAMS, XOR_X.subarray(0, 2 * b), y.subarray(0, b), b));
    const results = await Promise.all(runs);
    const ref = lossAndGrad(spec, XOR_PARAMS, XOR_X, y, 4);
    expect(results[3].loss).toBe(ref.loss);
  });
});

describe('compileTrainingStep: saturated units', () => {
  it.each([
    ['softmax_cross_entropy', 'softmax', 'tanh'],
    ['sigmoid_binary_cross_entropy', 'sigmoid', 'elu'],
    ['sum_of_squares', 'sigmoid', 'softplus'],
    ['mse', 'tanh', 'gelu'],
  ] as const)(
    '%s with %s output stays finite and matches libs/nn at logits in the hundreds',
    async (loss, out, hidden) => {
      const spec = parseSpec({
        inputSize: 4,
        layers: [
          { units: 6, activation: hidden },
          { units: 3, activation: out },
        ],
        loss,
      });
      const rng = createRng(21);
      const params = initParams(spec, rng).map((v) => v * 60);
      const { x, y } = randomBatch(spec, 8, rng);
      const step = compile(spec);
      const r = await step.run(params, x, y, 8);
      const ref = lossAndGrad(spec, params, x, y, 8);
      expect(Number.isFinite(r.loss)).toBe(true);
      expect(r.grad.every(Number.isFinite)).toBe(true);
      expect(relErr([r.loss], [ref.loss], 1e-3)).toBeLessThan(1e-5);
      expect(relErr(r.grad, ref.grad)).toBeLessThan(1e-5);
      expect(r.correct).toBe(ref.correct);
    },
  );
});

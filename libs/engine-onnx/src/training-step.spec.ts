import { createRng, flatMask, initParams, lossAndGrad, parseSpec, type NetworkSpec } from '@nnq/nn';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { buildTrainingGraph } from './training-graph';
import { compileTrainingStep, type OnnxTrainingStep } from './training-step';
import { expectStepLikeReference, paramsWithBiases } from '../../../test/support/onnx-step-check';
import { fillMasked, relErr, tensorMismatches } from '../../../test/support/param-tensors';
import { randomBatch, specArb } from '../../../test/support/random-network';
import { XOR_PARAMS, XOR_SPEC, XOR_X, XOR_Y } from '../../../test/support/xor-float32';

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
  it('has the same loss, correct count, gradient (1e-5 per tensor) on every activation, loss, mask, skip', async () => {
    await fc.assert(
      fc.asyncProperty(specArb, fc.integer({ min: 1, max: 9 }), fc.integer(), async (spec, batch, seed) => {
        const rng = createRng(seed);
        const params = paramsWithBiases(spec, rng);
        // and weights under the masks, which both engines must ignore
        fillMasked(spec, params, rng);
        const { x, y } = randomBatch(spec, batch, rng);
        const check = (got: Float32Array, want: Float32Array) => tensorMismatches(spec, got, want, 1e-5);
        const r = await expectStepLikeReference(spec, params, x, y, batch, check);
        const mask = flatMask(spec);
        if (mask) mask.forEach((m, i) => m === 0 && expect(r.grad[i]).toBe(0));
      }),
      // a fixed seed: the same 150 networks on every run, so a failure comes back
      { numRuns: 150, seed: 20_226, endOnFailure: true },
    );
  });

  it('builds identical model bytes for the same spec and batch', () => {
    const spec = fc.sample(specArb, { numRuns: 1, seed: 7 })[0];
    expect(Buffer.from(buildTrainingGraph(spec, 5).model).equals(Buffer.from(buildTrainingGraph(spec, 5).model))).toBe(
      true,
    );
  });
});

describe('compileTrainingStep: masks', () => {
  const masked = specArb.filter((s) => s.layers.some((l) => 'mask' in l && l.mask?.some((row) => row.includes(0))));

  it('ignores the weights under a mask: the loss and gradient of zeroed ones, and exactly 0 there', async () => {
    for (const spec of fc.sample(masked, { numRuns: 25, seed: 13 })) {
      const rng = createRng(8);
      const zeroed = initParams(spec, rng, 'glorot_uniform');
      const filled = fillMasked(spec, Float32Array.from(zeroed), rng);
      const mask = flatMask(spec)!;
      expect(filled.some((v, i) => mask[i] === 0 && v !== 0)).toBe(true);
      const { x, y } = randomBatch(spec, 6, rng);
      const step = compile(spec);
      const a = await step.run(filled, x, y, 6);
      const b = await step.run(zeroed, x, y, 6, new Float32Array(zeroed.length));
      expect(a.loss).toBe(b.loss);
      expect(a.correct).toBe(b.correct);
      // == and not toEqual: a masked product may be -0 on one side and +0 on the other
      expect(a.grad.filter((v, i) => v != b.grad[i])).toEqual(new Float32Array(0));
      mask.forEach((m, i) => m === 0 && expect(Object.is(a.grad[i], 0)).toBe(true));
    }
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
      expect(tensorMismatches(spec, r.grad, ref.grad, 1e-5)).toEqual([]);
      expect(r.correct).toBe(ref.correct);
    },
  );
});

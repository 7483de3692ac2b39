import {
  createRng,
  forward,
  lossAndGrad,
  paramLayout,
  parseSpec,
  type Activation,
  type Loss,
  type NetworkSpec,
  type NetworkSpecInput,
} from '@nnq/nn';
import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { compileForward, exportOnnx, FORWARD_INPUT, FORWARD_OUTPUT } from './forward';
import { sessionOptions } from './ort';
import { flatSlots } from './training-graph';
import { compileTrainingStep, type OnnxTrainingStep } from './training-step';
import { relErr } from '../../../test/support/param-tensors';
import { expectStepLikeReference, paramsWithBiases } from '../../../test/support/onnx-step-check';
import { HIDDEN, randomBatch, randomCnnCase, tieParams, tiedPoolsSpec } from '../../../test/support/random-network';

/**
 * Random CNNs, beside lane C's generator (test/support cnnSpecArb, also run below) with inputs of
 * one cell per axis, strides up to 3, overlapping pools and add skips from the input: an image
 * input, 1-4 conv / max-pool / avg-pool layers (any kernel, stride and padding that fits, add skips
 * around a shape-keeping conv), flatten, dense layers (a concat skip from the flatten output),
 * every loss. Specs parseSpec refuses are dropped.
 */
const blockArb = fc.record({
  kind: fc.constantFrom('conv2d', 'conv2d', 'maxPool2d', 'avgPool2d'),
  filters: fc.integer({ min: 1, max: 4 }),
  size: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
  strides: fc.option(fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }))),
  same: fc.boolean(),
  activation: fc.constantFrom(...HIDDEN),
  useBias: fc.boolean(),
});

const cnnSpecArb: fc.Arbitrary<NetworkSpec> = fc
  .record({
    shape: fc.tuple(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 3 })),
    blocks: fc.array(blockArb, { minLength: 1, maxLength: 4 }),
    /** Where a shape-keeping conv with an add skip around it goes (none: -1). */
    addAt: fc.integer({ min: -1, max: 3 }),
    hidden: fc.option(fc.integer({ min: 1, max: 5 })),
    hiddenAct: fc.constantFrom(...HIDDEN),
    concat: fc.boolean(),
    K: fc.integer({ min: 1, max: 4 }),
    loss: fc.constantFrom<Loss>('sum_of_squares', 'mse', 'softmax_cross_entropy', 'sigmoid_binary_cross_entropy'),
    regressionOut: fc.constantFrom<Activation>(...HIDDEN),
  })
  .map((r) => {
    const layers: NonNullable<NetworkSpecInput['layers']>[number][] = [];
    const skips: NonNullable<NetworkSpecInput['skips']> = [];
    let channels = r.shape[2];
    r.blocks.forEach((b, i) => {
      if (i === r.addAt) {
        // x(n+1) = h(n) + h(n-1): a 'same' conv of stride 1 keeps the shape of its input
        layers.push({
          kind: 'conv2d',
          filters: channels,
          kernelSize: b.size,
          padding: 'same',
          activation: b.activation,
        });
        skips.push({ from: layers.length - 1, to: layers.length + 1, mode: 'add' });
      }
      const padding = b.same ? 'same' : 'valid';
      const strides = b.strides ?? undefined;
      if (b.kind === 'conv2d') {
        const kernelSize = b.size[0] === b.size[1] ? b.size[0] : b.size;
        layers.push({
          kind: 'conv2d',
          filters: b.filters,
          kernelSize,
          strides,
          padding,
          activation: b.activation,
          useBias: b.useBias,
        });
        channels = b.filters;
      } else {
        layers.push({ kind: b.kind as 'maxPool2d' | 'avgPool2d', poolSize: b.size, strides, padding });
      }
    });
    layers.push({ kind: 'flatten' });
    const K = r.loss === 'softmax_cross_entropy' ? Math.max(r.K, 2) : r.K;
    if (r.hidden !== null) {
      layers.push({ units: r.hidden, activation: r.hiddenAct });
      if (r.concat) skips.push({ from: layers.length - 1, to: layers.length + 1, mode: 'concat' });
    }
    const out: Activation =
      r.loss === 'softmax_cross_entropy'
        ? 'softmax'
        : r.loss === 'sigmoid_binary_cross_entropy'
          ? 'sigmoid'
          : r.regressionOut;
    layers.push({ units: K, activation: out });
    return { inputShape: r.shape, layers, skips, loss: r.loss };
  })
  .map((input) => {
    try {
      return parseSpec(input);
    } catch {
      return null;
    }
  })
  .filter((s): s is NetworkSpec => s !== null);

/**
 * The parameter tensors (kernel_n, bias_n) whose relative error is tol or more. A tensor far smaller
 * than the network's largest (a conv bias summed over every cell, whose terms cancel) is measured
 * against 1% of the largest tensor's norm instead of its own: float32 rounding of its terms, not a
 * wrong gradient, is what is left there (a 1-filter bias of 12 cells cancelling to 8% of its terms
 * differed by 1.1e-5 of itself, 3e-8 absolute, from the float64 gradient).
 */
function slotMismatches(spec: NetworkSpec, got: Float32Array, want: Float32Array, tol: number): string[] {
  const slots = flatSlots(paramLayout(spec));
  const part = (v: Float32Array, s: (typeof slots)[number]) => v.subarray(s.offset, s.offset + s.size);
  const floor = Math.max(0.01 * Math.max(...slots.map((s) => Math.hypot(...part(want, s)))), 1e-6);
  return slots
    .map((s) => ({ s, err: relErr(part(got, s), part(want, s), floor) }))
    .filter(({ err }) => !(err < tol))
    .map(({ s, err }) => `${s.name}: relative error ${err.toExponential(2)}`);
}

const steps: OnnxTrainingStep[] = [];
afterAll(async () => {
  await Promise.all(steps.map((s) => s.dispose()));
});

describe('engine-onnx CNNs against libs/nn', () => {
  it('generates every layer kind, padding, stride and skip', () => {
    const specs = fc.sample(cnnSpecArb, { numRuns: 200, seed: 19 });
    const kinds = new Set(specs.flatMap((s) => s.layers.map((l) => l.kind ?? 'dense')));
    expect([...kinds].sort()).toEqual(['avgPool2d', 'conv2d', 'dense', 'flatten', 'maxPool2d']);
    const convs = specs.flatMap((s) => s.layers.filter((l) => l.kind === 'conv2d'));
    expect(convs.some((l) => l.padding === 'same') && convs.some((l) => l.padding === 'valid')).toBe(true);
    expect(convs.some((l) => l.strides !== undefined && l.strides !== 1)).toBe(true);
    expect(specs.some((s) => s.skips.some((k) => k.mode === 'add' && k.from === 0))).toBe(true);
    expect(specs.some((s) => s.skips.some((k) => k.mode === 'add' && k.from > 0))).toBe(true);
    expect(specs.some((s) => s.skips.some((k) => k.mode === 'concat'))).toBe(true);
  });

  /** Loss, correct count and gradient of engine-onnx and libs/nn on one case. */
  async function agree(spec: NetworkSpec, batch: number, seed: number): Promise<void> {
    const params = paramsWithBiases(spec, createRng(seed));
    const { x, y } = randomBatch(spec, batch, createRng(seed + 1));
    await expectStepLikeReference(spec, params, x, y, batch, (got, want) => slotMismatches(spec, got, want, 1e-5));
  }

  it('has the same loss, correct count and gradient (1e-5 per tensor) on 200 random CNNs', async () => {
    await fc.assert(
      fc.asyncProperty(cnnSpecArb, fc.integer({ min: 1, max: 4 }), fc.integer(), agree),
      // a fixed seed: the same 200 networks on every run, so a failure comes back
      { numRuns: 200, seed: 20_261, endOnFailure: true },
    );
  });

  it("and on lane C's 200 random CNN cases (the specs libs/nn's gradient checks run)", async () => {
    await fc.assert(
      fc.asyncProperty(randomCnnCase, (c) => agree(c.spec, c.batch, c.seed)),
      { numRuns: 200, seed: 20_262, endOnFailure: true },
    );
  });

  it('routes a max-pool delta to the first maximum of a window of ties, as libs/nn does', async () => {
    // integer inputs in {0, 1} and ones kernels: most windows hold several equal maxima
    const spec = tiedPoolsSpec();
    const rng = createRng(3);
    const params = paramsWithBiases(spec, createRng(4));
    tieParams(spec, params);
    const x = Float32Array.from({ length: 5 * 72 }, () => rng.int(2));
    const { y } = randomBatch(spec, 5, rng);
    const step = compileTrainingStep(spec);
    steps.push(step);
    const r = await step.run(params, x, y, 5);
    const ref = lossAndGrad(spec, params, x, y, 5);
    expect(slotMismatches(spec, r.grad, ref.grad, 1e-6)).toEqual([]);
  });

  it('predicts like libs/nn forward, in the engine and as an exported model (1e-5)', async () => {
    for (const spec of fc.sample(cnnSpecArb, { numRuns: 40, seed: 23 })) {
      const params = paramsWithBiases(spec, createRng(5));
      const { x } = randomBatch(spec, 3, createRng(6));
      const want = forward(spec, params, x, 3);
      const f = compileForward(spec);
      const session = await ort.InferenceSession.create(exportOnnx(spec, params), sessionOptions({}));
      try {
        expect(relErr(await f.run(params, x, 3), want)).toBeLessThan(1e-5);
        const r = await session.run({ [FORWARD_INPUT]: new ort.Tensor('float32', x, [3, spec.inputSize]) });
        expect(relErr(r[FORWARD_OUTPUT].data as Float32Array, want)).toBeLessThan(1e-5);
      } finally {
        await f.dispose();
        await session.release();
      }
    }
  });
});

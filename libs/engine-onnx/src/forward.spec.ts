import { createRng, forward, initParams, paramLayout, parseSpec } from '@nnq/nn';
import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { buildForwardModel, compileForward, exportOnnx, FORWARD_INPUT, FORWARD_OUTPUT, predict } from './forward';
import { sessionOptions } from './ort';
import { fillMasked, relErr } from '../../../test/support/param-tensors';
import { randomBatch, specArb } from '../../../test/support/random-network';
import { XOR_PARAMS, XOR_SPEC, XOR_X } from '../../../test/support/xor-float32';

/** Params with nonzero biases, so every input of the graph matters, and weights under masks to ignore. */
function paramsFor(spec: ReturnType<typeof parseSpec>, seed: number): Float32Array {
  const rng = createRng(seed);
  const p = initParams(spec, rng, 'glorot_uniform');
  for (const l of paramLayout(spec).layers)
    for (let i = 0; i < l.biasSize; i++) p[l.biasOffset + i] = 0.3 * rng.normal();
  return fillMasked(spec, p, rng);
}

describe('predict / compileForward', () => {
  it('computes the lecture XOR outputs exactly: [0, 1, 1, 0]', async () => {
    const out = await predict(parseSpec(XOR_SPEC), XOR_PARAMS, XOR_X, 4);
    expect(Array.from(out)).toEqual([0, 1, 1, 0]);
  });

  it('predicts like libs/nn forward (norm-wise 1e-5) on random specs', async () => {
    for (const spec of fc.sample(specArb, { numRuns: 40, seed: 11 })) {
      const params = paramsFor(spec, 1);
      const { x } = randomBatch(spec, 7, createRng(2));
      const f = compileForward(spec);
      try {
        const out = await f.run(params, x, 7);
        expect(relErr(out, forward(spec, params, x, 7))).toBeLessThan(1e-5);
      } finally {
        await f.dispose();
      }
    }
  });

  it.each([
    ['elu', (v: number) => (v > 0 ? v : Math.expm1(v))],
    ['sigmoid', (v: number) => 1 / (1 + Math.exp(-v))],
    ['softplus', (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)))],
    ['tanh', Math.tanh],
  ] as const)('keeps the relative digits of %s over its whole range', async (activation, f) => {
    const spec = parseSpec({ inputSize: 1, layers: [{ units: 1, activation }], loss: 'sum_of_squares' });
    const x = Float32Array.of(-60, -18, -3, -0.3, -2e-3, -1e-6, 0, 1e-6, 0.5, 4, 30);
    const out = await predict(spec, Float32Array.of(1, 0), x, x.length);
    out.forEach((v, i) => {
      const want = f(x[i]);
      expect(Math.abs(v - want)).toBeLessThanOrEqual(1e-6 * Math.abs(want));
    });
  });

  it('rejects inputs of the wrong size', async () => {
    const f = compileForward(parseSpec(XOR_SPEC));
    await expect(f.run(XOR_PARAMS, XOR_X, 3)).rejects.toThrow(/x has 8 values, expected 6 \(batch 3 x inputSize 2\)/);
    await f.dispose();
  });
});

describe('exportOnnx', () => {
  it('writes a standalone model onnxruntime loads (weights as initializers, masks folded, x * mul + add)', async () => {
    for (const spec of fc.sample(specArb, { numRuns: 30, seed: 12 })) {
      const params = paramsFor(spec, 3);
      const rng = createRng(4);
      const mul = Float32Array.from({ length: spec.inputSize }, () => 0.5 + rng.next());
      const add = Float32Array.from({ length: spec.inputSize }, () => rng.normal());
      const bytes = exportOnnx(spec, params, { preprocess: { mul, add } });
      const session = await ort.InferenceSession.create(bytes, sessionOptions({}));
      try {
        expect(session.inputNames).toEqual([FORWARD_INPUT]);
        // the batch dimension is symbolic: any batch size runs
        for (const batch of [1, 5]) {
          const { x } = randomBatch(spec, batch, rng);
          const pre = x.map((v, i) => v * mul[i % spec.inputSize] + add[i % spec.inputSize]);
          const r = await session.run({ [FORWARD_INPUT]: new ort.Tensor('float32', x, [batch, spec.inputSize]) });
          expect(relErr(r[FORWARD_OUTPUT].data as Float32Array, forward(spec, params, pre, batch))).toBeLessThan(1e-5);
        }
      } finally {
        await session.release();
      }
    }
  });

  it('exports without preprocessing, and checks the sizes it is given', () => {
    const spec = parseSpec(XOR_SPEC);
    expect(exportOnnx(spec, XOR_PARAMS).byteLength).toBeGreaterThan(0);
    expect(() => exportOnnx(spec, XOR_PARAMS.subarray(1))).toThrow(/params has 8 values, expected 9/);
    const bad = { mul: new Float32Array(3), add: new Float32Array(2) };
    expect(() => exportOnnx(spec, XOR_PARAMS, { preprocess: bad })).toThrow(/preprocess.mul has 3 values, expected 2/);
  });

  it('builds identical forward model bytes for the same spec and batch', () => {
    const spec = parseSpec(XOR_SPEC);
    expect(Buffer.from(buildForwardModel(spec, 4)).equals(Buffer.from(buildForwardModel(spec, 4)))).toBe(true);
  });
});

import { createRng, initParams, lossAndGrad, parseSpec } from '@nnq/nn';
import { describe, expect, it } from 'vitest';
import { createTrainingEngine } from './engine';
import type { Ort } from './ort';
import { randomBatch } from '../../../test/support/random-network';
import { XOR_PARAMS, XOR_SPEC, XOR_X, XOR_Y } from '../../../test/support/xor-float32';

const spec = parseSpec({
  inputSize: 5,
  layers: [
    { units: 8, activation: 'tanh' },
    { units: 3, activation: 'softmax' },
  ],
  loss: 'softmax_cross_entropy',
});
const rng = createRng(8);
const params = initParams(spec, rng);
const { x, y } = randomBatch(spec, 6, rng);

describe('createTrainingEngine', () => {
  it('runs onnx by default and agrees with the reference', async () => {
    const engine = await createTrainingEngine(spec, { env: {} });
    try {
      expect(engine.kind).toBe('onnx');
      expect(engine.fallbackReason).toBeUndefined();
      const r = await engine.lossAndGrad(params, x, y, 6);
      const ref = lossAndGrad(spec, params, x, y, 6);
      expect(r.loss).toBeCloseTo(ref.loss, 5);
      expect(r.correct).toBe(ref.correct);
    } finally {
      await engine.dispose();
      await engine.dispose(); // idempotent
    }
  });

  it('falls back to the reference, with the reason, when onnxruntime-node cannot load', async () => {
    const engine = await createTrainingEngine(spec, {
      env: {},
      loadOrt: () => {
        throw new Error('Cannot find module onnxruntime_binding.node');
      },
    });
    expect(engine.kind).toBe('reference');
    expect(engine.fallbackReason).toMatch(
      /^onnxruntime-node unavailable: Cannot find module onnxruntime_binding\.node$/,
    );
    const r = await engine.lossAndGrad(params, x, y, 6);
    const ref = lossAndGrad(spec, params, x, y, 6);
    expect(r.loss).toBe(ref.loss);
    expect(Array.from(r.grad)).toEqual(Array.from(ref.grad));
    await engine.dispose();
  });

  it('falls back when session creation fails', async () => {
    const broken = {
      InferenceSession: { create: () => Promise.reject(new Error('Load model failed: bad protobuf')) },
    } as unknown as Ort;
    const engine = await createTrainingEngine(spec, { env: {}, loadOrt: () => broken });
    expect(engine.kind).toBe('reference');
    expect(engine.fallbackReason).toMatch(/onnxruntime-node unavailable: Load model failed: bad protobuf/);
  });

  it('runs the reference when NNQ_ENGINE=reference is set, or when preferred', async () => {
    const forced = await createTrainingEngine(spec, { env: { NNQ_ENGINE: 'reference' } });
    expect(forced.kind).toBe('reference');
    expect(forced.fallbackReason).toMatch(/NNQ_ENGINE=reference/);
    const preferred = await createTrainingEngine(spec, { env: {}, prefer: 'reference' });
    expect(preferred.kind).toBe('reference');
    expect(preferred.fallbackReason).toBeUndefined();
    await expect(createTrainingEngine(spec, { env: { NNQ_ENGINE: 'gpu' } })).rejects.toThrow(
      /NNQ_ENGINE must be 'onnx' or 'reference', got 'gpu'/,
    );
  });

  it('gives both engines the lecture XOR result exactly', async () => {
    const xor = parseSpec(XOR_SPEC);
    for (const prefer of ['onnx', 'reference'] as const) {
      const engine = await createTrainingEngine(xor, { env: {}, prefer });
      const r = await engine.lossAndGrad(XOR_PARAMS, XOR_X, XOR_Y, 4);
      expect(engine.kind).toBe(prefer);
      expect(r.loss).toBe(0);
      expect(Array.from(r.grad)).toEqual(new Array(9).fill(0));
      await engine.dispose();
    }
  });
});

/**
 * engine-onnx's training step against libs/nn's reference backprop, for the engine's random-spec
 * tests: parameters with every path carrying signal, and one batch through both. A test fixture:
 * it lives outside src/, so the build does not ship it.
 */
import { compileTrainingStep, type StepResult } from '@nnq/engine-onnx';
import { initParams, lossAndGrad, paramLayout, type NetworkSpec, type Rng } from '@nnq/nn';
import { expect } from 'vitest';
import { relErr } from './param-tensors';

/** Glorot-uniform weights and biases N(0, 0.3^2), not initParams' 0, so every path of the graph carries signal. */
export function paramsWithBiases(spec: NetworkSpec, rng: Rng): Float32Array {
  const params = initParams(spec, rng, 'glorot_uniform');
  for (const l of paramLayout(spec).layers) {
    for (let i = 0; i < l.biasSize; i++) params[l.biasOffset + i] = 0.3 * rng.normal();
  }
  return params;
}

/**
 * Runs a freshly compiled step once and expects libs/nn's loss (relative 1e-5), its correct count
 * and its gradient (`mismatches(got, want)`: the parameter tensors that disagree, empty when all
 * agree). The step is disposed either way; returns its result.
 */
export async function expectStepLikeReference(
  spec: NetworkSpec,
  params: Float32Array,
  x: Float32Array,
  y: Float32Array,
  batch: number,
  mismatches: (got: Float32Array, want: Float32Array) => string[],
): Promise<StepResult> {
  const step = compileTrainingStep(spec);
  try {
    const r = await step.run(params, x, y, batch);
    const ref = lossAndGrad(spec, params, x, y, batch);
    expect(relErr([r.loss], [ref.loss], 1e-3)).toBeLessThan(1e-5);
    expect(r.correct).toBe(ref.correct);
    expect(mismatches(r.grad, ref.grad)).toEqual([]);
    return r;
  } finally {
    await step.dispose();
  }
}

import {
  createRng,
  flatMask,
  forwardTrace,
  gaussNewtonVector64,
  hessianVector64,
  initParams,
  isDense,
  paramLayout,
  type NetworkSpec,
} from '@nnq/nn';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fillMasked, tensorMismatches } from '../../../test/support/param-tensors';
import { randomBatch, specArb } from '../../../test/support/random-network';
import { OnnxCurvature } from './curvature-step';
import type { CurvatureKind } from './hessian-graph';

/**
 * engine-onnx's H v and G v graphs (float32) against libs/nn's R-operator in float64 on the same
 * float32 inputs, per tensor, on fixed-seed random specs (every activation, loss, mask, skip).
 */
const KINKED = new Set(['relu', 'leaky_relu', 'elu']);

function caseOf(spec: NetworkSpec, batch: number, seed: number) {
  const rng = createRng(seed);
  const params = initParams(spec, rng, 'glorot_uniform');
  for (const l of paramLayout(spec).layers) {
    for (let i = 0; i < l.biasSize; i++) params[l.biasOffset + i] = 0.3 * rng.normal();
  }
  fillMasked(spec, params, rng);
  const v = Float32Array.from({ length: params.length }, () => rng.normal());
  const { x, y } = randomBatch(spec, batch, rng);
  return { params, v, x, y };
}

/** Pre-activations of relu, leaky_relu and elu layers away from their kink (where f' or f'' jumps). */
function awayFromKinks(spec: NetworkSpec, params: Float32Array, x: Float32Array, batch: number): boolean {
  const t = forwardTrace(spec, params, x, batch);
  return !spec.layers.some(
    (l, k) => isDense(l) && KINKED.has(l.activation) && t.a[k + 1].some((a) => Math.abs(a) < 0.02),
  );
}

const f64 = (a: Float32Array) => Float64Array.from(a);

describe.each<[CurvatureKind, typeof hessianVector64]>([
  ['hessian', hessianVector64],
  ['gauss-newton', gaussNewtonVector64],
])('engine-onnx %s-vector graph', (kind, reference) => {
  it('equals libs/nn within 1e-5 relative per tensor on 120 random specs; masked entries exactly 0', async () => {
    await fc.assert(
      fc.asyncProperty(specArb, fc.integer({ min: 1, max: 6 }), fc.integer(), async (spec, batch, seed) => {
        const { params, v, x, y } = caseOf(spec, batch, seed);
        fc.pre(awayFromKinks(spec, params, x, batch));
        const engine = new OnnxCurvature(spec, kind);
        try {
          const got = await engine.run(params, v, x, y, batch);
          const want = reference(spec, f64(params), f64(v), f64(x), f64(y), batch);
          expect(tensorMismatches(spec, got, want, 1e-5)).toEqual([]);
          const mask = flatMask(spec);
          if (mask) mask.forEach((m, i) => m === 0 && expect(got[i]).toBe(0));
        } finally {
          await engine.dispose();
        }
      }),
      { numRuns: 120, seed: kind === 'hessian' ? 20_301 : 20_302, endOnFailure: true },
    );
  });

  it('gives the same bytes on every run and in a new session (one thread)', async () => {
    const spec = fc.sample(specArb, { numRuns: 1, seed: 11 })[0];
    const { params, v, x, y } = caseOf(spec, 5, 3);
    const hex = async () => {
      const engine = new OnnxCurvature(spec, kind, { threads: 1 });
      try {
        const a = Buffer.from((await engine.run(params, v, x, y, 5)).buffer).toString('hex');
        const b = Buffer.from((await engine.run(params, v, x, y, 5)).buffer).toString('hex');
        expect(b).toBe(a);
        return a;
      } finally {
        await engine.dispose();
      }
    };
    expect(await hex()).toBe(await hex());
  });
});

import {
  createRng,
  gaussNewtonVector64,
  hessianVector64,
  parseSpec,
  type NetworkSpec,
  type NetworkSpecInput,
} from '@nnq/nn';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { paramsWithBiases } from '../../../test/support/onnx-step-check';
import { paramTensors, relErr } from '../../../test/support/param-tensors';
import { randomBatch, randomCnnCase, tieParams, tiedPoolsSpec } from '../../../test/support/random-network';
import { OnnxCurvature } from './curvature-step';
import type { CurvatureKind } from './hessian-graph';

/**
 * engine-onnx's H v and G v graphs (float32) through conv2d, pooling and flatten layers against
 * libs/nn's R-operator in float64 on the same float32 inputs, per tensor, on the random CNN specs
 * of test/support/random-network.ts (paddings, strides, add and concat skips, every activation and loss).
 */
type Reference = typeof hessianVector64;
type Case = ReturnType<typeof caseOf>;

function caseOf(spec: NetworkSpec, batch: number, seed: number) {
  const rng = createRng(seed);
  const params = paramsWithBiases(spec, rng);
  const v = Float32Array.from({ length: params.length }, () => rng.normal());
  const { x, y } = randomBatch(spec, batch, rng);
  return { params, v, x, y, batch };
}

const f64 = (a: Float32Array) => Float64Array.from(a);

/**
 * Per tensor, how far the float64 reference moves when every input moves by up to half a float32
 * ulp (3 seeded draws): what a float32 evaluation can promise there. Far below 1e-6 for most
 * tensors; larger where terms of both signs cancel (a bias summed over cells and samples, a softmax
 * row) or an arg-max or kink lies within rounding.
 */
function float32Spread(spec: NetworkSpec, reference: Reference, c: Case, want: Float64Array): number[] {
  const rng = createRng(7);
  const jiggle = (a: Float32Array) => Float64Array.from(a, (q) => q * (1 + 2 ** -24 * (2 * rng.next() - 1)));
  const tensors = paramTensors(spec);
  const spread = tensors.map(() => 0);
  for (let k = 0; k < 3; k++) {
    const moved = reference(spec, jiggle(c.params), jiggle(c.v), jiggle(c.x), jiggle(c.y), c.batch);
    tensors.forEach((t, i) => {
      spread[i] = Math.max(spread[i], relErr(moved.subarray(t.from, t.to), want.subarray(t.from, t.to)));
    });
  }
  return spread;
}

/** Tensors compared, and those (at most 1%) beyond 1e-5 but within 30x their float32 spread. */
interface Tally {
  tensors: number;
  beyond: string[];
}

/**
 * The tensors whose relative error is 1e-5 or more and 30 times their float32 spread or more.
 * Over 1,500 specs per kind, 8 of 6,912 H v tensors and 13 of 6,889 G v tensors were beyond
 * 1e-5, each within 18x its spread (a 1-filter conv bias summed over 10 cells and samples:
 * 1.35e-5, spread 7.7e-7).
 */
async function mismatches(kind: CurvatureKind, reference: Reference, spec: NetworkSpec, c: Case, tally: Tally) {
  const engine = new OnnxCurvature(spec, kind);
  try {
    const got = await engine.run(c.params, c.v, c.x, c.y, c.batch);
    const want = reference(spec, f64(c.params), f64(c.v), f64(c.x), f64(c.y), c.batch);
    const spread = float32Spread(spec, reference, c, want);
    return paramTensors(spec).flatMap((t, i) => {
      const err = relErr(got.subarray(t.from, t.to), want.subarray(t.from, t.to));
      tally.tensors++;
      const say = `${t.name}: relative error ${err.toExponential(2)} (float32 spread ${spread[i].toExponential(2)})`;
      if (err >= 1e-5 && err < 30 * spread[i]) tally.beyond.push(say);
      return err < Math.max(1e-5, 30 * spread[i]) ? [] : [say];
    });
  } finally {
    await engine.dispose();
  }
}

/** A small network of the README's CNN shape: conv same, max pool 2, conv valid, max pool, dense, softmax. */
const readmeCnn: NetworkSpecInput = {
  inputShape: [10, 10, 2],
  layers: [
    { kind: 'conv2d', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' },
    { kind: 'maxPool2d', poolSize: 2 },
    { kind: 'conv2d', filters: 3, kernelSize: 3, activation: 'tanh' },
    { kind: 'maxPool2d', poolSize: 2 },
    { kind: 'flatten' },
    { units: 6, activation: 'gelu' },
    { units: 3, activation: 'softmax' },
  ],
  loss: 'softmax_cross_entropy',
};

describe.each<[CurvatureKind, Reference]>([
  ['hessian', hessianVector64],
  ['gauss-newton', gaussNewtonVector64],
])('engine-onnx %s-vector graph of CNNs', (kind, reference) => {
  it('equals libs/nn within 1e-5 per tensor (30x float32 spread where larger) on 120 random CNNs', async () => {
    const tally: Tally = { tensors: 0, beyond: [] };
    await fc.assert(
      fc.asyncProperty(randomCnnCase, fc.integer({ min: 1, max: 5 }), async ({ spec, seed }, batch) => {
        const bad = await mismatches(kind, reference, spec, caseOf(spec, batch, seed), tally);
        expect(bad, JSON.stringify(spec)).toEqual([]);
      }),
      { numRuns: 120, seed: kind === 'hessian' ? 20_501 : 20_502, endOnFailure: true },
    );
    expect(tally.beyond.length, tally.beyond.join('\n')).toBeLessThanOrEqual(tally.tensors / 100);
    console.log(`${kind}: ${tally.tensors} tensors, beyond 1e-5 within their spread: ${tally.beyond.length}`);
  });

  it('equals libs/nn on the README-shaped CNN, batch 8, within 1e-5 per tensor', async () => {
    const spec = parseSpec(readmeCnn);
    const tally: Tally = { tensors: 0, beyond: [] };
    expect(await mismatches(kind, reference, spec, caseOf(spec, 8, 31), tally)).toEqual([]);
    expect(tally).toEqual({ tensors: 8, beyond: [] });
  });

  it('equals libs/nn on examples/fashion-mnist-cnn.json (28x28), batch 4, within 1e-5 per tensor', async () => {
    const spec = parseSpec(JSON.parse(readFileSync('examples/fashion-mnist-cnn.json', 'utf8')).model);
    const tally: Tally = { tensors: 0, beyond: [] };
    expect(await mismatches(kind, reference, spec, caseOf(spec, 4, 32), tally)).toEqual([]);
    expect(tally).toEqual({ tensors: 8, beyond: [] });
  });

  it('takes the first maximum of a max-pool window of ties, as libs/nn does (1e-6 per tensor)', async () => {
    // inputs in {0, 1} and a ones kernel: most windows of both pools hold several equal maxima
    const spec = tiedPoolsSpec();
    const c = caseOf(spec, 5, 4);
    tieParams(spec, c.params);
    const rng = createRng(3);
    c.x.forEach((_, i) => (c.x[i] = rng.int(2)));
    const engine = new OnnxCurvature(spec, kind);
    try {
      const got = await engine.run(c.params, c.v, c.x, c.y, c.batch);
      const want = reference(spec, f64(c.params), f64(c.v), f64(c.x), f64(c.y), c.batch);
      for (const t of paramTensors(spec)) {
        expect(relErr(got.subarray(t.from, t.to), want.subarray(t.from, t.to)), t.name).toBeLessThan(1e-6);
      }
    } finally {
      await engine.dispose();
    }
  });

  it('gives the same bytes on every run and in a new session (one thread)', async () => {
    const spec = parseSpec({
      ...readmeCnn,
      layers: [
        { kind: 'conv2d', filters: 2, kernelSize: 3, strides: 2, padding: 'same', activation: 'elu' },
        { kind: 'maxPool2d', poolSize: 2, strides: 1 },
        { kind: 'avgPool2d', poolSize: 2, padding: 'same' },
        { kind: 'flatten' },
        { units: 3, activation: 'softmax' },
      ],
    });
    const c = caseOf(spec, 5, 3);
    const hex = async () => {
      const engine = new OnnxCurvature(spec, kind, { threads: 1 });
      try {
        const a = Buffer.from((await engine.run(c.params, c.v, c.x, c.y, 5)).buffer).toString('hex');
        const b = Buffer.from((await engine.run(c.params, c.v, c.x, c.y, 5)).buffer).toString('hex');
        expect(b).toBe(a);
        return a;
      } finally {
        await engine.dispose();
      }
    };
    expect(await hex()).toBe(await hex());
  });
});

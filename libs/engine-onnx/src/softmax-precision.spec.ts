import {
  argmax,
  createRng,
  forward64,
  initParams,
  lossAndGrad64,
  parseSpec,
  type NetworkSpec,
  type NetworkSpecInput,
} from '@nnq/nn';
import { afterAll, describe, expect, it } from 'vitest';
import { paramTensors } from '../../../test/support/param-tensors';
import { compileTrainingStep, type OnnxTrainingStep } from './training-step';

/**
 * Outputs bounded by 1 (softmax, sigmoid) near 1 under the squared losses, in float32 on
 * onnxruntime against libs/nn's float64 gradient (checked against a closed form in
 * libs/nn/src/softmax-precision.spec.ts): issue #22, "Precision". The textbook softmax backward
 * p_k (dh_k - sum_j p_j dh_j) and the residual out - y keep only the digits of 1 - p that float32's
 * p carries: 2.2e-3 relative error at p = [7.9e-5, 0.99992].
 */
const steps = new Map<string, OnnxTrainingStep>();
afterAll(async () => {
  await Promise.all([...steps.values()].map((s) => s.dispose()));
});
function compile(spec: NetworkSpec): OnnxTrainingStep {
  const key = JSON.stringify(spec);
  let s = steps.get(key);
  if (!s) steps.set(key, (s = compileTrainingStep(spec)));
  return s;
}

/**
 * Relative error of each parameter tensor, no absolute floor (these gradients are as small as
 * 1e-30); every reference tensor must be non-zero.
 */
function tensorErrors(spec: NetworkSpec, got: Float32Array, want: Float64Array): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of paramTensors(spec)) {
    let d = 0;
    let n = 0;
    for (let i = t.from; i < t.to; i++) {
      d += (got[i] - want[i]) ** 2;
      n += want[i] ** 2;
    }
    expect(n, t.name).toBeGreaterThan(0);
    out[t.name] = Math.sqrt(d / n);
  }
  return out;
}

/** The tensors off by `tol` or more, with their errors; [] when all agree. */
async function mismatches(spec: NetworkSpec, params: Float32Array, x: Float32Array, y: Float32Array, tol: number) {
  const batch = x.length / spec.inputSize;
  const r = await compile(spec).run(params, x, y, batch);
  const ref = lossAndGrad64(spec, Float64Array.from(params), Float64Array.from(x), Float64Array.from(y), batch);
  expect(Math.abs(r.loss - ref.loss) / ref.loss).toBeLessThan(tol);
  return Object.entries(tensorErrors(spec, r.grad, ref.grad)).filter(([, err]) => !(err < tol));
}

const oneHot = (K: number, k: number) => Float32Array.from({ length: K }, (_, j) => (j === k ? 1 : 0));

describe('engine-onnx: a softmax output near p = 1 under a squared loss', () => {
  // 2 inputs, one softmax layer of K units; x = [1, 2], kernel row 0 = the logits (class K-1 near
  // p = 1, the others near pSmall e^{-j/4}), row 1 and the bias 0: a(L) is exactly the logits
  const cases = [2, 3, 10].flatMap((K) =>
    [7.9e-5, 1e-7, 1e-15].flatMap((pSmall) =>
      (['sum_of_squares', 'mse'] as const).flatMap((loss) =>
        (['right', 'wrong'] as const).map((target) => ({ K, pSmall, loss, target })),
      ),
    ),
  );
  it.each(cases)('K $K, p = $pSmall, $loss, target $target: within 1e-5 per tensor', async (c) => {
    const spec = parseSpec({ inputSize: 2, layers: [{ units: c.K, activation: 'softmax' }], loss: c.loss });
    const params = new Float32Array(3 * c.K);
    for (let j = 0; j < c.K - 1; j++) params[j] = Math.log(c.pSmall) - j / 4;
    const y = oneHot(c.K, c.target === 'right' ? c.K - 1 : 0);
    expect(await mismatches(spec, params, Float32Array.of(1, 2), y, 1e-5)).toEqual([]);
  });

  it.each([
    ['sum_of_squares', 3],
    ['mse', 10],
  ] as const)(
    '%s, K %i behind a tanh layer, 12 samples each near its target: within 1e-5 per tensor',
    async (loss, K) => {
      const spec = parseSpec({
        inputSize: 3,
        layers: [
          { units: 5, activation: 'tanh' },
          { units: K, activation: 'softmax' },
        ],
        loss,
      });
      const rng = createRng(7);
      const params = initParams(spec, rng, 'glorot_uniform');
      const out = paramTensors(spec).find((t) => t.name === 'kernel_2')!;
      for (let i = out.from; i < out.to; i++) params[i] *= 30; // logits spread by tens: p of the top class near 1
      // one sample a step (in a batch the least saturated row would outweigh the others), its target
      // its top class: out - y and the backward both meet 1 - p there
      for (let sample = 0; sample < 12; sample++) {
        const x = Float32Array.from({ length: 3 }, () => rng.normal());
        const p = forward64(spec, Float64Array.from(params), Float64Array.from(x), 1);
        expect(await mismatches(spec, params, x, oneHot(K, argmax(p, 0, K)), 1e-5)).toEqual([]);
      }
    },
  );
});

describe('engine-onnx: a sigmoid output near 1 under a squared loss', () => {
  it.each([7.9e-5, 1e-7])('1 - p = %s, targets 1 and 0: within 1e-5 per tensor', async (q) => {
    const input: NetworkSpecInput = { inputSize: 1, layers: [{ units: 2, activation: 'sigmoid' }], loss: 'mse' };
    const spec = parseSpec(input);
    const a = Math.log((1 - q) / q); // sigmoid(a) = 1 - q
    const params = Float32Array.of(a, a * 1.5, 0, 0);
    expect(await mismatches(spec, params, Float32Array.of(1), Float32Array.of(1, 0), 1e-5)).toEqual([]);
  });
});

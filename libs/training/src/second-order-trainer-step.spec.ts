import { describe, expect, it } from 'vitest';
import { NonFiniteError } from './non-finite';
import { RunPlan } from './run-plan';
import { parseLocalRunConfig } from './second-order-config';
import {
  createSecondOrderState,
  secondOrderOuterStep,
  secondOrderShards,
  type SecondOrderPasses,
  type ShardLossGrad,
} from './second-order-trainer-step';

const xorConfig = (over: Record<string, unknown>) =>
  parseLocalRunConfig({
    name: 'so-step',
    seed: 1,
    dataset: { source: { type: 'synthetic', name: 'xor', n: 4, task: 'regression' }, validation: 0, test: 0 },
    model: { inputSize: 2, layers: [{ units: 1, activation: 'identity' }], loss: 'sum_of_squares' },
    optimizer: { type: 'lbfgs' },
    batchSize: 4,
    steps: 3,
    ...over,
  });

/** Passes that hand over fixed shard results (no curvature). */
const fixed = (shards: ShardLossGrad[]): SecondOrderPasses => ({
  lossAndGrad: (_p, use) => Promise.resolve(shards.forEach((s) => use(s))),
  curvatureAt: () => Promise.reject(new Error('no curvature here')),
});

describe('secondOrderShards', () => {
  it('full batch: the split in split order, ceil(rows / shards) rows a shard (4 rows, 3 shards: 2 parts)', () => {
    const { config } = xorConfig({ shards: 3 });
    const plan = new RunPlan(4, 4, 3, 1, { steps: 3 });
    expect(secondOrderShards(config, plan, 4, 0)).toEqual([
      { shard: 0, start: 0, end: 2 },
      { shard: 1, start: 2, end: 4 },
    ]);
    expect(secondOrderShards(config, plan, 4, 2)).toEqual(secondOrderShards(config, plan, 4, 0));
  });

  it("a fixed batch: the plan's shards of the step, with their epoch", () => {
    const { config } = xorConfig({ batchSize: 2, shards: 2 });
    const plan = new RunPlan(4, 2, 2, 1, { steps: 3 });
    const got = secondOrderShards(config, plan, 4, 1);
    expect(got).toEqual(plan.shardsOf(1).map(({ shard, epoch, start, end }) => ({ shard, epoch, start, end })));
    expect(got.every((r) => r.epoch !== undefined)).toBe(true);
  });
});

describe('secondOrderOuterStep', () => {
  const base = (over: Record<string, unknown> = {}) => {
    const { secondOrder: so } = xorConfig({ optimizer: { type: 'lbfgs', gradTolerance: 10, ...over } });
    const state = createSecondOrderState(so!);
    return { so: so!, params: new Float64Array(2), state, mask: null, fullBatch: true, rows: 4, step: 0, epoch: 0 };
  };

  it('sums the shards in order in float64 and divides by the rows (hand-computed)', async () => {
    // (1 + 3) / 4 = 1; grad ([1, 2] + [3, 4]) / 4 = [1, 1.5]; converged at once (max |g| <= 10)
    const input = base();
    const passes = fixed([
      { loss: 1, correct: 1, grad: Float32Array.of(1, 2) },
      { loss: 3, correct: 2, grad: Float32Array.of(3, 4) },
    ]);
    const { record, stop } = await secondOrderOuterStep(input, passes);
    expect(record).toEqual({
      step: 0,
      epoch: 0,
      loss: 1,
      accuracy: 3 / 4,
      lr: 0,
      gradNorm: Math.sqrt(1 * 1 + 1.5 * 1.5),
    });
    expect(stop).toMatch(/^lbfgs converged: max \|gradient\| 1\.5 <= 10$/);
    expect(input.state.type === 'lbfgs' && Array.from(input.state.grad)).toEqual([1, 1.5]);
  });

  it('a NaN loss throws NonFiniteError naming the step, the parameters untouched', async () => {
    const input = { ...base(), step: 7 };
    const passes = fixed([{ loss: NaN, correct: 0, grad: Float32Array.of(1, 2) }]);
    await expect(secondOrderOuterStep(input, passes)).rejects.toThrow(NonFiniteError);
    await expect(secondOrderOuterStep(input, passes)).rejects.toThrow(/step 7/);
    expect(Array.from(input.params)).toEqual([0, 0]);
  });
});

import { createOptimizerState, type OptimizerConfigInput } from '@nnq/nn';
import { describe, expect, it } from 'vitest';
import { parseRunConfig, type RunConfig } from './run-config';
import { reduceSlice, sliceRanges, slicingApplies, stateSlice, stepStrategyOf } from './slices';
import { applyStep, sumShards } from './step-reduce';

// a fixed LCG: random-looking gradients with a wide range of magnitudes, the same every run
function randoms(seed: number) {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return (x / 2 ** 32 - 0.5) * 2 ** ((x & 15) - 6);
  };
}

const configOf = (optimizer: OptimizerConfigInput, reduce = { slices: 4, sliceAbove: 2 }): RunConfig =>
  parseRunConfig({
    name: 'slices',
    dataset: { source: { type: 'synthetic', name: 'xor' } },
    model: { inputSize: 2, layers: [{ units: 1, activation: 'sigmoid' }], loss: 'mse' },
    optimizer,
    batchSize: 64,
    shards: 6,
    steps: 3,
    reduce,
  });

describe('sliced reduction', () => {
  it('cuts [0, P) into contiguous ranges aligned to 16 floats', () => {
    expect(sliceRanges(1000, 4)).toEqual([
      { slice: 0, start: 0, end: 256 },
      { slice: 1, start: 256, end: 512 },
      { slice: 2, start: 512, end: 768 },
      { slice: 3, start: 768, end: 1000 },
    ]);
    expect(sliceRanges(20, 4)).toEqual([
      { slice: 0, start: 0, end: 16 },
      { slice: 1, start: 16, end: 20 },
    ]);
  });

  it('applies only with slices > 1 and more shards than sliceAbove', () => {
    expect(slicingApplies({ shards: 12, reduce: { slices: 4, sliceAbove: 8 } })).toBe(true);
    expect(slicingApplies({ shards: 8, reduce: { slices: 4, sliceAbove: 8 } })).toBe(false);
    expect(slicingApplies({ shards: 12, reduce: { slices: 1, sliceAbove: 8 } })).toBe(false);
  });

  it('picks the step strategy reduce.strategy names; "auto" picks sliced or central, never replicated', () => {
    const reduce = (strategy: string, slices = 4) => ({ shards: 12, reduce: { strategy, slices, sliceAbove: 8 } });
    expect(['auto', 'central', 'sliced', 'replicated'].map((s) => stepStrategyOf(reduce(s)))).toEqual([
      'sliced',
      'central',
      'sliced',
      'replicated',
    ]);
    expect(stepStrategyOf(reduce('auto', 1))).toBe('central');
    expect(stepStrategyOf({ shards: 8, reduce: { slices: 4, sliceAbove: 8 } })).toBe('central');
    expect(slicingApplies(reduce('replicated'))).toBe(false);
    const sgd = { type: 'sgd', lr: 0.1 } as const;
    expect(configOf(sgd).reduce.strategy).toBe('auto');
    const named = (strategy: string, slices: number) => ({ strategy, slices, sliceAbove: 2 }) as never;
    expect(() => configOf(sgd, named('sliced', 1))).toThrow(
      /reduce\.slices: must be at least 2 with strategy "sliced"/,
    );
    expect(() => configOf(sgd, named('ring', 1))).toThrow(/reduce\.strategy/);
  });

  it('refuses clipNorm with slicing, naming the path', () => {
    expect(() => configOf({ type: 'sgd', lr: 0.1, clipNorm: 1 })).toThrow(
      /optimizer\.clipNorm: cannot be used with reduce\.slices > 1/,
    );
    expect(() => configOf({ type: 'sgd', lr: 0.1, clipNorm: 1 }, { slices: 1, sliceAbove: 8 })).not.toThrow();
    expect(() => configOf({ type: 'sgd', lr: 0.1 }, { slices: 0, sliceAbove: 8 })).toThrow(
      /reduce\.slices: must be at least 1/,
    );
  });

  it.each([
    { type: 'sgd', lr: 0.1, weightDecay: 0.01 },
    { type: 'momentum', lr: 0.05, weightDecay: 0.001 },
    { type: 'nesterov', lr: 0.05 },
    { type: 'adam', lr: 0.01, weightDecay: 0.001 },
    { type: 'adamw', lr: 0.01 },
    { type: 'rmsprop', lr: 0.01 },
  ] as OptimizerConfigInput[])('gives the bytes of ShardSum + step for $type over 3 steps', (optimizer) => {
    const config = configOf(optimizer);
    const P = 1037;
    const S = 6;
    const rnd = randoms(P + optimizer.type.length);
    const mask = Float32Array.from({ length: P }, (_, i) => (i % 7 === 3 ? 0 : 1));
    const initial = Float32Array.from({ length: P }, (_, i) => (mask[i] ? rnd() : 0));
    const whole = { params: initial.slice(), state: createOptimizerState(config.optimizer, P) };
    const sliced = { params: initial.slice(), state: createOptimizerState(config.optimizer, P) };
    const ranges = sliceRanges(P, 4);
    for (let t = 0; t < 3; t++) {
      const shards = Array.from({ length: S }, (_, s) => ({
        grad: Float32Array.from({ length: P }, rnd),
        loss: 1,
        correct: s,
        rows: 10 + s,
      }));
      const reduced = sumShards(shards);
      const { lr } = applyStep(config, whole.params, reduced, whole.state, t, mask);
      let sq = 0;
      for (const r of ranges) {
        sq += reduceSlice(config, {
          grads: shards.map((sh) => sh.grad.subarray(r.start, r.end)),
          params: sliced.params.subarray(r.start, r.end),
          state: stateSlice(sliced.state, r.start, r.end),
          mask: mask.subarray(r.start, r.end),
          lr,
          rows: reduced.rows,
        });
      }
      sliced.state.step++;
      expect(Math.sqrt(sq) / reduced.rows).toBeCloseTo(reduced.gradNorm, 12);
    }
    expect(Buffer.from(sliced.params.buffer).equals(Buffer.from(whole.params.buffer))).toBe(true);
    for (const name of Object.keys(whole.state.slots)) {
      expect(Buffer.from(sliced.state.slots[name].buffer).equals(Buffer.from(whole.state.slots[name].buffer))).toBe(
        true,
      );
    }
  });
});

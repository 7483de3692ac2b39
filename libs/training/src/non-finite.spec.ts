import { createOptimizerState } from '@nnq/nn';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { localEngine } from '../../../test/support/local-engine';
import { trainLocal } from './local-trainer';
import { allFinite, applyFiniteStep, MAX_SKIPPED_IN_A_ROW, NonFiniteError, StepUndo } from './non-finite';
import { parseRunConfig } from './run-config';
import type { ReducedStep } from './step-reduce';

const xor = JSON.parse(readFileSync(join(__dirname, '../../../examples/xor.json'), 'utf8')) as object;
const config = (optimizer: object, onNonFinite: 'fail' | 'skip' = 'fail', steps = 40) =>
  parseRunConfig({ ...xor, optimizer, onNonFinite, steps });

/** A reduced step of 2 rows over 3 parameters with gradient `g`. */
const reduced = (g: number[]): ReducedStep => ({
  grad: Float32Array.from(g),
  loss: 1,
  correct: 0,
  rows: 2,
  gradNorm: 1,
});

describe('allFinite', () => {
  it.each([
    [[0, -1.5, 3e38], true],
    [[0, NaN], false],
    [[Infinity], false],
    [[1, -Infinity], false],
  ])('%j -> %s', (values, finite) => {
    expect(allFinite(Float32Array.from(values))).toBe(finite);
  });
});

describe('applyFiniteStep', () => {
  // 3 parameters: slots copied into the update kernel; 5,000: slots resident in its memory
  const cases = ['sgd', 'momentum', 'nesterov', 'adam', 'adamw', 'rmsprop'].flatMap((type) =>
    [3, 5000].map((n) => ({ type, n })),
  );
  it.each(cases)(
    '$type at lr 1e308, $n parameters: the update is undone, parameters and state as before',
    ({ type, n }) => {
      const c = config({ type, lr: 1e308 }, 'skip');
      const params = Float32Array.from({ length: n }, (_, i) => [0.5, -0.25, 1][i % 3]);
      const grad = (g: number[]) => ({ ...reduced(g), grad: Float32Array.from({ length: n }, (_, i) => g[i % 3]) });
      const state = createOptimizerState(c.optimizer, n);
      // one finite step first, so the state is not all zeros
      const small = { ...c, optimizer: { ...c.optimizer, lr: 0.01 } };
      expect(applyFiniteStep(small, params, grad([1, 2, 3]), state, 0, null, new StepUndo()).finite).toBe(true);
      const before = { params: params.slice(), step: state.step, slots: structuredClone(state.slots) };
      const r = applyFiniteStep(c, params, grad([1, -2, 3]), state, 1, null, new StepUndo());
      expect(r.finite).toBe(false);
      expect([...params]).toEqual([...before.params]);
      expect(state.step).toBe(before.step);
      expect(Object.keys(state.slots).map((k) => [...state.slots[k]])).toEqual(
        Object.keys(before.slots).map((k) => [...before.slots[k]]),
      );
    },
  );

  it('keeps a finite update', () => {
    const c = config({ type: 'sgd', lr: 0.5 });
    const params = Float32Array.from([1, 1, 1]);
    const state = createOptimizerState(c.optimizer, 3);
    const r = applyFiniteStep(c, params, reduced([2, 0, -2]), state, 0, null, null);
    expect(r).toEqual({ lr: 0.5, finite: true });
    expect([...params]).toEqual([0.5, 1, 1.5]);
  });
});

describe('trainLocal with an update that overflows (Adam, lr 1e308)', () => {
  it('fails at step 0 with the reason, keeping the initial parameters', async () => {
    await expect(trainLocal(config({ type: 'adam', lr: 1e308 }), { engine: localEngine })).rejects.toThrow(
      /^the update of step 0 made a parameter non-finite \(learning rate too large\?\)$/,
    );
  });

  it(`skips, then fails after ${MAX_SKIPPED_IN_A_ROW} skipped steps in a row`, async () => {
    const err = await trainLocal(config({ type: 'adam', lr: 1e308 }, 'skip'), { engine: localEngine }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NonFiniteError);
    expect((err as NonFiniteError).step).toBe(MAX_SKIPPED_IN_A_ROW - 1);
    expect((err as Error).message).toMatch(/^10 steps in a row up to step 9 were non-finite and skipped$/);
  });
});

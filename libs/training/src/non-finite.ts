import type { OptimizerState, StepUndo } from '@nnq/nn';
import type { RunConfig } from './run-config';
import type { StepRecord } from './local-trainer';
import { applyStep, isPoisoned, type AppliedStep, type ReducedStep } from './step-reduce';

/**
 * A run whose last MAX_SKIPPED_IN_A_ROW steps were all skipped as non-finite (`onNonFinite:
 * "skip"`) fails: its parameters have not moved for that long and will not (an optimizer that
 * overflows every update, a learning rate of 1e308). One bad batch now and then stays a skip.
 */
export const MAX_SKIPPED_IN_A_ROW = 10;

/** Why a step is non-finite, in the words of a run's error. */
export function nonFiniteReason(step: number, cause: 'gradient' | 'parameters' | 'skips'): string {
  if (cause === 'gradient') return `non-finite loss or gradient at step ${step}`;
  if (cause === 'parameters')
    return `the update of step ${step} made a parameter non-finite (learning rate too large?)`;
  return `${MAX_SKIPPED_IN_A_ROW} steps in a row up to step ${step} were non-finite and skipped`;
}

/**
 * A run stopped by a non-finite step (`onNonFinite: "fail"`, or MAX_SKIPPED_IN_A_ROW skips): the
 * local trainer's and the coordinator's alike. `paramsKept`: the parameters of the step before it
 * are still there (the coordinator writes them as the run's model), and the message says so.
 */
export class NonFiniteError extends Error {
  constructor(
    readonly step: number,
    cause: 'gradient' | 'parameters' | 'skips' = 'gradient',
    options: { paramsKept?: boolean } = {},
  ) {
    const reason = nonFiniteReason(step, cause);
    super(options.paramsKept ? `${reason}; the parameters of step ${step} are kept` : reason);
    this.name = 'NonFiniteError';
  }
}

/** Every value finite: no NaN, no Infinity (x - x is 0 for finite x, NaN otherwise). */
export function allFinite(v: Float32Array): boolean {
  for (let i = 0; i < v.length; i++) if (v[i] - v[i] !== 0) return false;
  return true;
}

/** The undo of a skipped step: libs/nn's, kept here for the callers of applyFiniteStep and updateStep. */
export { StepUndo } from '@nnq/nn';

/**
 * applyStep, and whether every parameter is finite after it (the update's own loop checks it).
 * When one is not, `undo` (if given) has the update undone: parameters and optimizer state as
 * before the step; without one they are left as the update made them, for a caller that ends the
 * run. On the kernel path neither the check nor the undo costs a pass of its own (libs/nn step).
 */
export function applyFiniteStep(
  config: RunConfig,
  params: Float32Array,
  reduced: ReducedStep,
  state: OptimizerState,
  t: number,
  mask: Float32Array | null,
  undo: StepUndo | null,
): AppliedStep & { finite: boolean } {
  return applyStep(config, params, reduced, state, t, mask, undo);
}

/**
 * The end of a step whose gradients are summed (the central step, trainLocal): the optimizer
 * update, unless the sum is poisoned or the update made a parameter non-finite (then undone by
 * `undo`). Returns the step's record (`skipped` with NaN loss when non-finite) and what was
 * non-finite; the caller fails the run on it under `onNonFinite: "fail"`.
 */
export function updateStep(
  config: RunConfig,
  params: Float32Array,
  reduced: ReducedStep,
  state: OptimizerState,
  at: { t: number; epoch: number },
  mask: Float32Array | null,
  undo: StepUndo | null,
): { record: StepRecord; nonFinite?: 'gradient' | 'parameters' } {
  const { t: step, epoch } = at;
  const { gradNorm } = reduced;
  const poisoned = isPoisoned(reduced);
  const applied = poisoned ? undefined : applyFiniteStep(config, params, reduced, state, step, mask, undo);
  if (!applied?.finite) {
    const record = { step, epoch, loss: NaN, accuracy: NaN, lr: 0, gradNorm, skipped: true };
    return { record, nonFinite: poisoned ? 'gradient' : 'parameters' };
  }
  const { lr } = applied;
  return {
    record: { step, epoch, loss: reduced.loss / reduced.rows, accuracy: reduced.correct / reduced.rows, lr, gradNorm },
  };
}

import { z } from 'zod';
import { parseConfig } from '@nnq/problems';
import type { StepUndo } from './step-undo';
import { updateKernels } from './update-kernel';
import { RULES } from './update-rules';

/**
 * Optimizers: functions of (params, grad) over flat Float32 vectors, apart from the code that
 * makes gradients (tinygrad's split). They run on the coordinator once per step, so each makes a
 * single pass over the vector (two when clipping by global norm: one for the norm).
 *
 * In every update g is the gradient after scaling (gradScale, e.g. 1/batch for a mean), clipping
 * (clipNorm) and, except for AdamW, L2 weight decay g <- g + weightDecay * p. Masked entries
 * (mask[i] = 0) are written back as exactly 0, whatever the update.
 */

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

const positive = z.number().positive('must be greater than 0').finite('must be finite');
const nonNegative = z.number().min(0, 'must be at least 0').finite('must be finite');
const unitInterval = z.number().min(0, 'must be at least 0').lt(1, 'must be less than 1');

const common = {
  /** Base learning rate (schedules.ts turns it into the rate of each step). */
  lr: positive,
  /** L2 penalty (decoupled for AdamW). */
  weightDecay: nonNegative.default(0),
  /** Clip the gradient to this global L2 norm before the update. */
  clipNorm: positive.optional(),
};

export const SgdConfigSchema = z.object({ type: z.literal('sgd'), ...common }).strict();
export const MomentumConfigSchema = z
  .object({ type: z.literal('momentum'), ...common, momentum: unitInterval.default(0.9) })
  .strict();
export const NesterovConfigSchema = z
  .object({ type: z.literal('nesterov'), ...common, momentum: unitInterval.default(0.9) })
  .strict();
const adamFields = {
  lr: positive.default(0.001),
  beta1: unitInterval.default(0.9),
  beta2: unitInterval.default(0.999),
  epsilon: positive.default(1e-8),
};
export const AdamConfigSchema = z.object({ type: z.literal('adam'), ...common, ...adamFields }).strict();
export const AdamWConfigSchema = z
  .object({ type: z.literal('adamw'), ...common, ...adamFields, weightDecay: nonNegative.default(0.01) })
  .strict();
export const RmspropConfigSchema = z
  .object({
    type: z.literal('rmsprop'),
    ...common,
    lr: positive.default(0.001),
    rho: unitInterval.default(0.9),
    epsilon: positive.default(1e-8),
  })
  .strict();

export const OptimizerConfigSchema = z.discriminatedUnion('type', [
  SgdConfigSchema,
  MomentumConfigSchema,
  NesterovConfigSchema,
  AdamConfigSchema,
  AdamWConfigSchema,
  RmspropConfigSchema,
]);
export type OptimizerConfigInput = z.input<typeof OptimizerConfigSchema>;
export type OptimizerConfig = z.output<typeof OptimizerConfigSchema>;
export type OptimizerType = OptimizerConfig['type'];

/** Validate an optimizer config; throws ConfigError naming each bad field. */
export function parseOptimizerConfig(json: unknown): OptimizerConfig {
  return parseConfig(OptimizerConfigSchema, json, 'optimizer config');
}

/** Moment buffers each optimizer keeps, one per parameter. */
export const OPTIMIZER_SLOTS: Record<OptimizerType, readonly string[]> = {
  sgd: [],
  momentum: ['velocity'],
  nesterov: ['velocity'],
  adam: ['m', 'v'],
  adamw: ['m', 'v'],
  rmsprop: ['meanSquare'],
};

export interface OptimizerState {
  readonly type: OptimizerType;
  /** Updates applied so far (Adam's t - 1). */
  step: number;
  readonly slots: Record<string, Float32Array>;
}

/**
 * Zeroed state for `size` parameters. Large states keep their slots in the update kernel's
 * memory (update-kernel.ts), so a step does not copy them; they are ordinary Float32Arrays
 * to every reader (a view: mind byteOffset when taking .buffer).
 */
export function createOptimizerState(config: Pick<OptimizerConfig, 'type'>, size: number): OptimizerState {
  const names = OPTIMIZER_SLOTS[config.type];
  const views = updateKernels()?.residentSlots(names.length, size) ?? null;
  const slots: Record<string, Float32Array> = {};
  names.forEach((name, i) => (slots[name] = views?.[i] ?? new Float32Array(size)));
  return { type: config.type, step: 0, slots };
}

export interface StepOptions {
  /** Flat mask (layout.ts flatMask): entries with 0 stay exactly 0. */
  mask?: Float32Array | null;
  /** Multiply the gradient by this first (e.g. 1 / batch to turn a summed gradient into a mean). */
  gradScale?: number;
  /** Where the update runs (defaultUpdatePath()); both give the same bytes. */
  path?: UpdatePath;
  /**
   * Undo an update that leaves a parameter non-finite: params, slots and state.step stay as they
   * were (StepResult.finite says so). Without it such an update is kept, as made.
   */
  undo?: StepUndo | null;
}

export interface StepResult {
  /** Global L2 norm of the scaled gradient before clipping (null when clipNorm is unset). */
  gradNorm: number | null;
  /** Every parameter finite after the update (checked in the update's own loop, no other pass). */
  finite: boolean;
}

// ---------------------------------------------------------------------------------------------
// Clipping
// ---------------------------------------------------------------------------------------------

/** ||g||_2 = sqrt(sum_i g_i^2), accumulated in double in index order (deterministic). */
export function globalNorm(grad: Float32Array, scale = 1): number {
  let s = 0;
  for (let i = 0; i < grad.length; i++) s += grad[i] * grad[i];
  return Math.abs(scale) * Math.sqrt(s);
}

/**
 * Clip by global norm (Pascanu et al. 2013): g <- g * maxNorm / ||g|| when ||g|| > maxNorm.
 * Scales grad in place; returns the norm before clipping.
 */
export function clipByGlobalNorm(grad: Float32Array, maxNorm: number): number {
  const norm = globalNorm(grad);
  if (norm > maxNorm) {
    const c = maxNorm / norm;
    for (let i = 0; i < grad.length; i++) grad[i] *= c;
  }
  return norm;
}

// ---------------------------------------------------------------------------------------------
// The update
// ---------------------------------------------------------------------------------------------

/** Runs [from, to) of unmasked indices (mask[i] !== 0), in order. */
function unmaskedRuns(mask: Float32Array): [number, number][] {
  const runs: [number, number][] = [];
  const n = mask.length;
  let i = 0;
  while (i < n) {
    const from = i;
    while (i < n && mask[i] !== 0) i++;
    if (i > from) runs.push([from, i]);
    while (i < n && mask[i] === 0) i++;
  }
  return runs;
}

/** Where the update runs: the WebAssembly SIMD kernel (the default where it exists) or the reference loop. */
export type UpdatePath = 'wasm' | 'reference';

/** The path `step` takes by default: the kernel when this runtime has WebAssembly SIMD. */
export function defaultUpdatePath(): UpdatePath {
  return updateKernels() ? 'wasm' : 'reference';
}

/** One optimizer update of params in place with learning rate lr (from schedules.ts). */
export function step(
  params: Float32Array,
  grad: Float32Array,
  state: OptimizerState,
  config: OptimizerConfig,
  lr: number,
  options: StepOptions = {},
): StepResult {
  const n = params.length;
  if (grad.length !== n) throw new RangeError(`grad has ${grad.length} values, params ${n}`);
  if (state.type !== config.type) throw new RangeError(`optimizer state is ${state.type}, config is ${config.type}`);
  for (const name of OPTIMIZER_SLOTS[config.type]) {
    if (state.slots[name]?.length !== n) throw new RangeError(`optimizer state slot ${name} must have ${n} values`);
  }
  if (!(lr >= 0) || !Number.isFinite(lr)) throw new RangeError(`lr must be a finite number >= 0, got ${lr}`);
  const mask = options.mask ?? null;
  if (mask && mask.length !== n) throw new RangeError(`mask has ${mask.length} values, params ${n}`);

  // scale and clip fold into one factor c, so the update loop reads grad once: g = c * grad
  let c = options.gradScale ?? 1;
  let gradNorm: number | null = null;
  if (config.clipNorm !== undefined) {
    gradNorm = globalNorm(grad, c);
    if (gradNorm > config.clipNorm) c *= config.clipNorm / gradNorm;
  }
  const rule = RULES[config.type];
  const terms = rule.terms(config, state.step + 1, lr, c);
  const slots = OPTIMIZER_SLOTS[config.type].map((name) => state.slots[name]);
  // a mask splits the update into its unmasked runs (no mask: the whole vector, the coordinator's
  // hot path; a per-element mask test cost ~30% on 235k parameters); masked parameters become 0
  const runs = mask === null ? null : unmaskedRuns(mask);
  const kernels = (options.path ?? defaultUpdatePath()) === 'wasm' ? updateKernels() : null;
  if (options.path === 'wasm' && kernels === null) throw new RangeError('this runtime has no WebAssembly SIMD');
  const undo = options.undo ?? null;
  let finite: boolean;
  if (kernels) {
    finite = kernels.run(config.type, params, grad, slots, terms, runs, undo !== null);
    if (!finite && undo) return { gradNorm, finite };
  } else {
    undo?.save(params, state);
    const [a, b] = [slots[0] ?? params, slots[1] ?? params];
    let z = 0;
    for (const [from, to] of runs ?? [[0, n]]) z += rule.loop(params, grad, a, b, terms, from, to);
    finite = z === 0;
    if (!finite && undo) {
      undo.restore(params, state);
      return { gradNorm, finite };
    }
  }
  // masked parameters (never in a run, so not in the check) become 0, finite
  if (mask !== null) for (let i = 0; i < n; i++) if (mask[i] === 0) params[i] = 0;
  state.step++;
  return { gradNorm, finite };
}

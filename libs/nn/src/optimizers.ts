import { z } from 'zod';
import { parseConfig } from './problems';

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

export function createOptimizerState(config: OptimizerConfig, size: number): OptimizerState {
  const slots: Record<string, Float32Array> = {};
  for (const name of OPTIMIZER_SLOTS[config.type]) slots[name] = new Float32Array(size);
  return { type: config.type, step: 0, slots };
}

export interface StepOptions {
  /** Flat mask (layout.ts flatMask): entries with 0 stay exactly 0. */
  mask?: Float32Array | null;
  /** Multiply the gradient by this first (e.g. 1 / batch to turn a summed gradient into a mean). */
  gradScale?: number;
}

export interface StepResult {
  /** Global L2 norm of the scaled gradient before clipping (null when clipNorm is unset). */
  gradNorm: number | null;
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

type Update = (
  params: Float32Array,
  grad: Float32Array,
  state: OptimizerState,
  config: OptimizerConfig,
  lr: number,
  c: number,
  mask: Float32Array | null,
) => void;

/** p <- p - lr g */
function sgdUpdate(
  params: Float32Array,
  grad: Float32Array,
  _s: OptimizerState,
  config: OptimizerConfig,
  lr: number,
  c: number,
  mask: Float32Array | null,
): void {
  const wd = config.weightDecay;
  for (let i = 0; i < params.length; i++) {
    if (mask !== null && mask[i] === 0) {
      params[i] = 0;
      continue;
    }
    const g = c * grad[i] + wd * params[i];
    params[i] -= lr * g;
  }
}

/** Heavy ball (Polyak 1964), PyTorch form: v <- mu v + g;  p <- p - lr v */
function momentumUpdate(
  params: Float32Array,
  grad: Float32Array,
  state: OptimizerState,
  config: OptimizerConfig,
  lr: number,
  c: number,
  mask: Float32Array | null,
): void {
  const v = state.slots.velocity;
  const mu = (config as { momentum: number }).momentum;
  const wd = config.weightDecay;
  for (let i = 0; i < params.length; i++) {
    if (mask !== null && mask[i] === 0) {
      params[i] = 0;
      continue;
    }
    const g = c * grad[i] + wd * params[i];
    const vi = mu * v[i] + g;
    v[i] = vi;
    params[i] -= lr * vi;
  }
}

/** Nesterov momentum (Nesterov 1983; Sutskever et al. 2013), PyTorch form: v <- mu v + g;  p <- p - lr (g + mu v) */
function nesterovUpdate(
  params: Float32Array,
  grad: Float32Array,
  state: OptimizerState,
  config: OptimizerConfig,
  lr: number,
  c: number,
  mask: Float32Array | null,
): void {
  const v = state.slots.velocity;
  const mu = (config as { momentum: number }).momentum;
  const wd = config.weightDecay;
  for (let i = 0; i < params.length; i++) {
    if (mask !== null && mask[i] === 0) {
      params[i] = 0;
      continue;
    }
    const g = c * grad[i] + wd * params[i];
    const vi = mu * v[i] + g;
    v[i] = vi;
    params[i] -= lr * (g + mu * vi);
  }
}

/**
 * Adam (Kingma & Ba 2015, Algorithm 1), t = step + 1:
 *   m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
 *   p <- p - lr * mhat / (sqrt(vhat) + eps),  mhat = m / (1 - b1^t),  vhat = v / (1 - b2^t)
 * AdamW (Loshchilov & Hutter 2019) decays decoupled from g: p <- p - lr (update + wd p)
 */
function adamUpdate(
  params: Float32Array,
  grad: Float32Array,
  state: OptimizerState,
  config: OptimizerConfig,
  lr: number,
  c: number,
  mask: Float32Array | null,
): void {
  const { m, v } = state.slots;
  const { beta1: b1, beta2: b2, epsilon: eps } = config as { beta1: number; beta2: number; epsilon: number };
  const wd = config.weightDecay;
  const t = state.step + 1;
  // the same update in Kingma & Ba's cheaper order (section 2): one sqrt and one division,
  // p <- p - alpha m / (sqrt(v) + epsHat), alpha = lr sqrt(1 - b2^t) / (1 - b1^t), epsHat = eps sqrt(1 - b2^t)
  const sqrtBc2 = Math.sqrt(1 - Math.pow(b2, t));
  const alpha = (lr * sqrtBc2) / (1 - Math.pow(b1, t));
  const epsHat = eps * sqrtBc2;
  const l2 = config.type === 'adam' ? wd : 0;
  const decay = lr * (config.type === 'adamw' ? wd : 0);
  const k: AdamTerms = { c, l2, b1, a1: 1 - b1, b2, a2: 1 - b2, alpha, epsHat, decay };
  // one branch-free loop over each unmasked run (no mask: the whole vector, the coordinator's hot
  // path; a per-element mask test cost ~30% on 235k parameters). Same arithmetic either way.
  if (mask === null) adamRange(params, grad, m, v, k, 0, params.length);
  else unmaskedRuns(params, mask, (from, to) => adamRange(params, grad, m, v, k, from, to));
}

interface AdamTerms {
  c: number;
  l2: number;
  b1: number;
  a1: number;
  b2: number;
  a2: number;
  alpha: number;
  epsHat: number;
  decay: number;
}

function adamRange(
  params: Float32Array,
  grad: Float32Array,
  m: Float32Array,
  v: Float32Array,
  k: AdamTerms,
  from: number,
  to: number,
): void {
  const { c, l2, b1, a1, b2, a2, alpha, epsHat, decay } = k;
  for (let i = from; i < to; i++) {
    const p = params[i];
    const g = c * grad[i] + l2 * p;
    const mi = b1 * m[i] + a1 * g;
    const vi = b2 * v[i] + a2 * g * g;
    m[i] = mi;
    v[i] = vi;
    params[i] = p - ((alpha * mi) / (Math.sqrt(vi) + epsHat) + decay * p);
  }
}

/** Call `update(from, to)` on each run of unmasked indices and zero the masked parameters. */
function unmaskedRuns(params: Float32Array, mask: Float32Array, update: (from: number, to: number) => void): void {
  const n = params.length;
  let i = 0;
  while (i < n) {
    const from = i;
    while (i < n && mask[i] !== 0) i++;
    if (i > from) update(from, i);
    while (i < n && mask[i] === 0) params[i++] = 0;
  }
}

/**
 * RMSProp (Hinton, Neural Networks for Machine Learning, lecture 6e):
 * s <- rho s + (1 - rho) g^2;  p <- p - lr g / (sqrt(s) + eps)
 */
function rmspropUpdate(
  params: Float32Array,
  grad: Float32Array,
  state: OptimizerState,
  config: OptimizerConfig,
  lr: number,
  c: number,
  mask: Float32Array | null,
): void {
  const s = state.slots.meanSquare;
  const { rho, epsilon: eps } = config as { rho: number; epsilon: number };
  const wd = config.weightDecay;
  for (let i = 0; i < params.length; i++) {
    if (mask !== null && mask[i] === 0) {
      params[i] = 0;
      continue;
    }
    const g = c * grad[i] + wd * params[i];
    const si = rho * s[i] + (1 - rho) * g * g;
    s[i] = si;
    params[i] -= (lr * g) / (Math.sqrt(si) + eps);
  }
}

const UPDATES: Record<OptimizerType, Update> = {
  sgd: sgdUpdate,
  momentum: momentumUpdate,
  nesterov: nesterovUpdate,
  adam: adamUpdate,
  adamw: adamUpdate,
  rmsprop: rmspropUpdate,
};

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
  // each rule is its own small function: one hot loop per function keeps V8's code stable
  // (a single function holding every loop deoptimised mid-run and ran 10x slower)
  UPDATES[config.type](params, grad, state, config, lr, c, mask);
  state.step++;
  return { gradNorm };
}

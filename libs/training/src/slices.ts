import { createOptimizerState, step as optimizerStep, type OptimizerConfig, type OptimizerState } from '@nnq/nn';
import type { RunConfig } from './run-config';
import { addInto, addIntoSquares, sumSquares } from './step-reduce';

/**
 * Sliced reduction: past `reduce.sliceAbove` shards, the sum of a step is split into contiguous
 * parameter slices that workers reduce (the parameter server's key-range partitioning). Each slice
 * takes the same float32 additions in the same shard order as ShardSum and the same per-element
 * optimizer update as `step`, so the weights are the same bytes as the unsliced reduction.
 */

/** Slice boundaries are multiples of this many floats (64-byte ranges). */
export const SLICE_ALIGN = 16;

export interface SliceRange {
  slice: number;
  /** Parameter indices [start, end). */
  start: number;
  end: number;
}

/** How a run's steps are reduced (apps/coordinator/src/steps: one strategy a file). */
export type StepStrategyName = 'central' | 'sliced' | 'replicated';

type StrategyChoice = { shards: number; reduce: Omit<RunConfig['reduce'], 'strategy'> & { strategy?: string } };

/**
 * The run's step strategy: `reduce.strategy` when it names one; "auto" (or none) picks sliced with
 * reduce.slices > 1 and more than sliceAbove shards, else central. Auto never picks replicated yet
 * (docs/deploy.md "Step strategies" says why).
 */
export function stepStrategyOf(config: StrategyChoice): StepStrategyName {
  const s = config.reduce.strategy;
  if (s === 'central' || s === 'sliced' || s === 'replicated') return s;
  return config.reduce.slices > 1 && config.shards > config.reduce.sliceAbove ? 'sliced' : 'central';
}

/** True when a run's steps are reduced by slices (stepStrategyOf). */
export function slicingApplies(config: StrategyChoice): boolean {
  return stepStrategyOf(config) === 'sliced';
}

/** Contiguous ranges covering [0, P), fixed by P and the slice count, aligned to SLICE_ALIGN floats; never empty. */
export function sliceRanges(paramCount: number, slices: number): SliceRange[] {
  if (!(paramCount >= 1) || !(slices >= 1)) throw new RangeError(`bad slicing of ${paramCount} values into ${slices}`);
  const chunk = Math.ceil(paramCount / slices / SLICE_ALIGN) * SLICE_ALIGN;
  const out: SliceRange[] = [];
  for (let start = 0; start < paramCount; start += chunk) {
    out.push({ slice: out.length, start, end: Math.min(paramCount, start + chunk) });
  }
  return out;
}

export interface SliceInputs {
  /** Each shard's gradient restricted to the slice, in shard order. */
  grads: readonly Float32Array[];
  /** Parameters of the slice at version t, updated in place to version t + 1. */
  params: Float32Array;
  /** Optimizer state of the slice (slots of the slice's length, the run's update count), updated in place. */
  state: OptimizerState;
  /** The slice of flatMask, or null. */
  mask: Float32Array | null;
  /** Learning rate of the step (learningRate of the schedule). */
  lr: number;
  /** Rows of the step (gradScale = 1 / rows). */
  rows: number;
}

/**
 * Reduce one slice: acc = g_0 + g_1 + ... + g_{S-1} (float32 after every addition, shard order),
 * then the optimizer update of the slice. Returns the slice's sum of squares of acc (double, index
 * order) for the gradient-norm metric and the NaN check. Global-norm clipping is refused by the
 * run config, so every update here is elementwise.
 */
export function reduceSlice(config: RunConfig, x: SliceInputs, acc?: Float32Array): number {
  const n = x.params.length;
  if (x.grads.length === 0) throw new RangeError('no shard gradients to reduce');
  if (config.optimizer.clipNorm !== undefined) throw new RangeError('clipNorm needs the global norm: no slicing');
  const sum = acc && acc.length === n ? acc : new Float32Array(n);
  const S = x.grads.length;
  x.grads.forEach((g, s) => {
    if (g.length !== n) throw new RangeError(`shard ${s} slice has ${g.length} values, expected ${n}`);
  });
  // the same additions, in the same order, as ShardSum (step-reduce.ts): the same bits
  sum.set(x.grads[0]);
  for (let s = 1; s < S - 1; s++) addInto(sum, x.grads[s]);
  // as ShardSum: the squares of the last addition are taken before its float32 rounding
  const sq = S === 1 ? sumSquares(sum) : addIntoSquares(sum, x.grads[S - 1]);
  optimizerStep(x.params, sum, x.state, config.optimizer, x.lr, { mask: x.mask, gradScale: 1 / x.rows });
  return sq;
}

/** The slots of an optimizer state restricted to [start, end) (views, no copies). */
export function stateSlice(state: OptimizerState, start: number, end: number): OptimizerState {
  const slots: Record<string, Float32Array> = {};
  for (const [name, v] of Object.entries(state.slots)) slots[name] = v.subarray(start, end);
  return { type: state.type, step: state.step, slots };
}

/** Slot names of an optimizer, in the order they are stored. */
const slotNames = (config: OptimizerConfig) => Object.keys(createOptimizerState(config, 0).slots);

/** A slice's optimizer state as one Redis value: updates applied (float64 LE), then each slot (float32 LE). */
export function encodeSliceState(state: OptimizerState, config: OptimizerConfig, start: number, end: number): Buffer {
  const names = slotNames(config);
  const n = end - start;
  const out = Buffer.alloc(8 + names.length * n * 4);
  out.writeDoubleLE(state.step, 0);
  names.forEach((name, k) => {
    const v = state.slots[name].subarray(start, end);
    Buffer.from(v.buffer, v.byteOffset, v.byteLength).copy(out, 8 + k * n * 4);
  });
  return out;
}

/** Read encodeSliceState's bytes for a slice of n values into `into` at offset (or a fresh state of n values). */
export function decodeSliceState(
  bytes: Buffer,
  config: OptimizerConfig,
  n: number,
  into?: { state: OptimizerState; offset: number },
): OptimizerState {
  const names = slotNames(config);
  if (bytes.byteLength !== 8 + names.length * n * 4) {
    throw new RangeError(`slice optimizer state has ${bytes.byteLength} bytes, expected ${8 + names.length * n * 4}`);
  }
  const state = into?.state ?? createOptimizerState(config, n);
  const offset = into?.offset ?? 0;
  state.step = bytes.readDoubleLE(0);
  names.forEach((name, k) => {
    const src = bytes.subarray(8 + k * n * 4, 8 + (k + 1) * n * 4);
    new Uint8Array(state.slots[name].buffer, state.slots[name].byteOffset + offset * 4, n * 4).set(src);
  });
  return state;
}

import {
  createHessianFreeState,
  createLbfgsState,
  hessianFreeStep,
  lbfgsStep,
  type CurvatureObjective,
  type OuterStep,
  type SecondOrderConfig,
  type SecondOrderState,
} from '@nnq/nn';
import type { StepRecord } from './local-trainer';
import { NonFiniteError } from './non-finite';
import type { RunConfig } from './run-config';
import type { RunPlan } from './run-plan';

/**
 * One outer step of a second-order run, wherever its passes run: in this process
 * (trainSecondOrder) or on the cluster (the coordinator's SecondOrderStep, one distributed pass
 * per loss-and-gradient evaluation and per Gauss-Newton product). Both give the optimizer the same
 * numbers because the sums are made here: each shard's result in shard order, in float64, then
 * divided by the batch's rows (the optimizer sees the mean loss, gradient and G v).
 */

/** A shard's loss and gradient summed over its rows (the engine's float32 gradient). */
export interface ShardLossGrad {
  loss: number;
  correct: number;
  grad: Float32Array;
}

/** Where the passes of a step run; every callback hands the shards' results over in shard order. */
export interface SecondOrderPasses {
  /** Each shard's loss, correct count and gradient at float32 parameters `p`. */
  lossAndGrad(p: Float32Array, use: (r: ShardLossGrad) => void): Promise<void>;
  /** Fix the point `p`; the product hands over each shard's G v (float64, summed over its rows) for a direction. */
  curvatureAt(p: Float32Array): Promise<(v: Float64Array, use: (gv: Float64Array) => void) => Promise<void>>;
}

/**
 * A shard of a second-order step: positions [start, end) in the epoch permutation, or in split
 * order without `epoch`.
 */
export interface SecondOrderShard {
  shard: number;
  start: number;
  end: number;
  epoch?: number;
}

/** Full batch: batchSize is the train split's size (the same batch, in split order, every step). */
export function isFullBatch(config: RunConfig, trainRows: number): boolean {
  return config.batchSize === trainRows;
}

/**
 * Step t's shards: the whole train split cut into parts of ceil(rows / shards) rows in split order
 * (full batch), else the plan's shards of the step (a fixed large batch per outer step).
 */
export function secondOrderShards(config: RunConfig, plan: RunPlan, trainRows: number, t: number): SecondOrderShard[] {
  if (!isFullBatch(config, trainRows))
    return plan.shardsOf(t).map(({ shard, epoch, start, end }) => ({ shard, epoch, start, end }));
  const per = Math.ceil(trainRows / config.shards);
  const out: SecondOrderShard[] = [];
  for (let s = 0; s < trainRows; s += per) out.push({ shard: out.length, start: s, end: Math.min(trainRows, s + per) });
  return out;
}

/** A run's second-order optimizer state, fresh. */
export function createSecondOrderState(so: SecondOrderConfig): SecondOrderState {
  return so.type === 'hessian_free' ? createHessianFreeState(so) : createLbfgsState();
}

/** What one outer step needs besides its passes. */
export interface OuterStepInput {
  so: SecondOrderConfig;
  /** float64 parameters, updated in place. */
  params: Float64Array;
  state: SecondOrderState;
  /** The flat mask of removed connections (0: removed), or null. */
  mask: Float32Array | null;
  fullBatch: boolean;
  /** Rows of the step's batch. */
  rows: number;
  step: number;
  epoch: number;
}

/**
 * Take outer step `step`: its record (loss after the step, accuracy of the last pass, lr 0, the
 * gradient norm at its start) and, when the optimizer stops, why. Throws NonFiniteError (the
 * parameters are kept) when the loss or gradient is NaN or infinite.
 */
export async function secondOrderOuterStep(
  input: OuterStepInput,
  passes: SecondOrderPasses,
): Promise<{ record: StepRecord; stop?: string }> {
  const { so, params, state, mask, fullBatch, rows, step } = input;
  const n = params.length;
  let correct = 0;
  let gradNorm = state.type === 'lbfgs' && fullBatch && step > 0 ? norm(state.grad) : NaN;
  const obj: CurvatureObjective = {
    async lossAndGrad(p) {
      const grad = new Float64Array(n);
      let loss = 0;
      correct = 0;
      // summed in shard order, in float64
      await passes.lossAndGrad(Float32Array.from(p), (r) => {
        loss += r.loss;
        correct += r.correct;
        for (let i = 0; i < n; i++) grad[i] += r.grad[i];
      });
      for (let i = 0; i < n; i++) grad[i] /= rows;
      if (Number.isNaN(gradNorm)) gradNorm = norm(grad);
      return { loss: loss / rows, grad };
    },
    async curvatureAt(p) {
      const product = await passes.curvatureAt(Float32Array.from(p));
      return async (v) => {
        const gv = new Float64Array(n);
        // each shard's G v summed in shard order, in float64
        await product(v, (part) => {
          for (let i = 0; i < n; i++) gv[i] += part[i];
        });
        for (let i = 0; i < n; i++) gv[i] /= rows;
        return gv;
      };
    },
  };
  const r: OuterStep =
    state.type === 'hessian_free' && so.type === 'hessian_free'
      ? await hessianFreeStep(so, params, state, obj)
      : state.type === 'lbfgs' && so.type === 'lbfgs'
        ? await lbfgsStep(so, params, state, obj, fullBatch && step > 0)
        : mismatch(so.type, state.type);
  // a NaN or infinite loss or gradient fails the run, as a first-order run's does (the parameters are kept)
  if (r.nonFinite) throw new NonFiniteError(step, 'gradient', { paramsKept: true });
  // removed connections stay exactly 0 (their gradient and curvature are 0 already)
  if (mask) for (let i = 0; i < n; i++) if (mask[i] === 0) params[i] = 0;
  const record: StepRecord = {
    step,
    epoch: input.epoch,
    loss: r.loss,
    accuracy: correct / rows,
    lr: 0,
    gradNorm: Number.isFinite(gradNorm) ? gradNorm : 0,
  };
  return r.stop ? { record, stop: r.stop } : { record };
}

function mismatch(config: string, state: string): never {
  throw new Error(`second-order state of type ${state} does not fit optimizer.type ${config}`);
}

function norm(v: Float64Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

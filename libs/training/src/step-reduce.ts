import { learningRate, step as optimizerStep, type OptimizerState } from '@nnq/nn';
import type { ShardResult } from '@nnq/protocol';
import type { RunConfig } from './run-config';

export interface ReducedStep {
  /** Sum of the shard gradients, taken in shard order. */
  grad: Float32Array;
  loss: number;
  correct: number;
  rows: number;
  /** ||sum grad|| / rows: the norm of the mean gradient; NaN or Infinity when poisoned. */
  gradNorm: number;
}

/**
 * Sum shard results in shard order: acc = g_0 + g_1 + ... + g_{S-1}, each addition rounded to
 * float32. The order is fixed, so the sum is the same whichever worker finished first.
 * The squared norm is accumulated in the last pass, so checking for NaN costs no extra pass.
 */
export function sumShards(results: readonly ShardResult[], into?: Float32Array): ReducedStep {
  if (results.length === 0) throw new RangeError('no shard results to sum');
  const n = results[0].grad.length;
  const acc = into ?? new Float32Array(n);
  acc.set(results[0].grad);
  let loss = results[0].loss;
  let correct = results[0].correct;
  let rows = results[0].rows;
  let sq = 0;
  for (let s = 1; s < results.length; s++) {
    const g = results[s].grad;
    if (g.length !== n) throw new RangeError(`shard ${s} gradient has ${g.length} values, shard 0 has ${n}`);
    if (s === results.length - 1) {
      for (let i = 0; i < n; i++) {
        const v = (acc[i] += g[i]);
        sq += v * v;
      }
    } else {
      for (let i = 0; i < n; i++) acc[i] += g[i];
    }
    loss += results[s].loss;
    correct += results[s].correct;
    rows += results[s].rows;
  }
  if (results.length === 1) for (let i = 0; i < n; i++) sq += acc[i] * acc[i];
  return { grad: acc, loss, correct, rows, gradNorm: Math.sqrt(sq) / rows };
}

export interface AppliedStep {
  lr: number;
}

/** The optimizer update of step t: params <- params - lr(t) * update(mean gradient). */
export function applyStep(
  config: RunConfig,
  params: Float32Array,
  reduced: ReducedStep,
  state: OptimizerState,
  t: number,
  mask: Float32Array | null,
): AppliedStep {
  const lr = learningRate(config.schedule, t, { baseLr: config.optimizer.lr, batchSize: config.batchSize });
  optimizerStep(params, reduced.grad, state, config.optimizer, lr, { mask, gradScale: 1 / reduced.rows });
  return { lr };
}

/** A poisoned step: a non-finite loss or gradient. */
export function isPoisoned(r: ReducedStep): boolean {
  return !Number.isFinite(r.loss) || !Number.isFinite(r.gradNorm);
}

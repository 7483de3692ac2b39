import { learningRate, step as optimizerStep, type OptimizerState, type StepUndo } from '@nnq/nn';
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
 * Sum of shard results taken in shard order: acc = g_0 + g_1 + ... + g_{S-1}, each addition
 * rounded to float32. Shards are added as they arrive (the coordinator overlaps the sum with the
 * compute of later shards), but always in index order, so the bytes never depend on who finished
 * first. The squared norm is accumulated in the last pass, so checking for NaN costs no extra pass.
 */
export class ShardSum {
  private added = 0;
  private loss = 0;
  private correct = 0;
  private rows = 0;
  private sq = 0;

  constructor(
    private readonly count: number,
    private readonly acc: Float32Array,
  ) {
    if (count < 1) throw new RangeError('no shard results to sum');
  }

  /** Add shard `this.added`'s result; shards must come in index order. */
  add(r: ShardResult): void {
    const g = r.grad;
    const acc = this.acc;
    const n = acc.length;
    if (g.length !== n) throw new RangeError(`shard ${this.added} gradient has ${g.length} values, the sum has ${n}`);
    const last = this.added === this.count - 1;
    if (this.added === 0) acc.set(g);
    else if (!last) addInto(acc, g);
    if (last) this.sq = this.added === 0 ? sumSquares(acc) : addIntoSquares(acc, g);
    this.loss += r.loss;
    this.correct += r.correct;
    this.rows += r.rows;
    this.added++;
  }

  get complete(): boolean {
    return this.added === this.count;
  }

  result(): ReducedStep {
    if (!this.complete) throw new RangeError(`only ${this.added} of ${this.count} shards were added`);
    return {
      grad: this.acc,
      loss: this.loss,
      correct: this.correct,
      rows: this.rows,
      gradNorm: Math.sqrt(this.sq) / this.rows,
    };
  }
}

// one small function per loop keeps V8's optimised code stable; slices.ts sums with the same loops
export function addInto(acc: Float32Array, g: Float32Array): void {
  for (let i = 0; i < acc.length; i++) acc[i] += g[i];
}

export function addIntoSquares(acc: Float32Array, g: Float32Array): number {
  let sq = 0;
  for (let i = 0; i < acc.length; i++) {
    const v = (acc[i] += g[i]);
    sq += v * v;
  }
  return sq;
}

export function sumSquares(acc: Float32Array): number {
  let sq = 0;
  for (let i = 0; i < acc.length; i++) sq += acc[i] * acc[i];
  return sq;
}

/** Sum all shard results in shard order (see ShardSum). */
export function sumShards(results: readonly ShardResult[], into?: Float32Array): ReducedStep {
  if (results.length === 0) throw new RangeError('no shard results to sum');
  const sum = new ShardSum(results.length, into ?? new Float32Array(results[0].grad.length));
  for (const r of results) sum.add(r);
  return sum.result();
}

export interface AppliedStep {
  lr: number;
}

/**
 * The learning rate of step t: the schedule's, from the optimizer's base rate. The central step,
 * the local trainer, the sliced step's reduce jobs and the workers' check of them all take it here.
 */
export function stepLearningRate(config: Pick<RunConfig, 'schedule' | 'optimizer' | 'batchSize'>, t: number): number {
  return learningRate(config.schedule, t, { baseLr: config.optimizer.lr, batchSize: config.batchSize });
}

/**
 * The optimizer update of step t: params <- params - lr(t) * update(mean gradient). `finite`:
 * every parameter is finite after it; when not, `undo` (if given) left params and state as before.
 */
export function applyStep(
  config: RunConfig,
  params: Float32Array,
  reduced: ReducedStep,
  state: OptimizerState,
  t: number,
  mask: Float32Array | null,
  undo: StepUndo | null = null,
): AppliedStep & { finite: boolean } {
  const lr = stepLearningRate(config, t);
  const options = { mask, gradScale: 1 / reduced.rows, undo };
  const { finite } = optimizerStep(params, reduced.grad, state, config.optimizer, lr, options);
  return { lr, finite };
}

/** A poisoned step: a non-finite loss or gradient. */
export function isPoisoned(r: ReducedStep): boolean {
  return !Number.isFinite(r.loss) || !Number.isFinite(r.gradNorm);
}

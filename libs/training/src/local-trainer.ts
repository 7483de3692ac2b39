import type { Dataset } from '@nnq/data';
import { roundToPrecision, type StepEntry } from '@nnq/protocol';
import { createOptimizerState, type NetworkSpec, type SecondOrderConfig } from '@nnq/nn';
import type { Evaluation } from './evaluation';
import { localEvaluator, openLocalRun } from './local-run';
import type { RunConfig } from './run-config';
import { PermutationCache, rowsOf } from './run-plan';
import { initialParams, type RunSetup } from './run-setup';
import { computeShard, type LossAndGradFn } from './shard-compute';
import { MAX_SKIPPED_IN_A_ROW, NonFiniteError, StepUndo, updateStep } from './non-finite';
import { sumShards } from './step-reduce';
import { trainSecondOrder } from './second-order-trainer';

/**
 * One step's outcome: the step line of a run's history (the HTTP contract's StepEntry) without
 * what the coordinator adds when it writes the line (its type, the step's seconds and end time).
 */
export type StepRecord = Omit<StepEntry, 'type' | 'seconds' | 'at'>;

/** What trainLocal computes each batch's loss and summed gradient with (such as @nnq/engine-onnx's engine). */
export interface LocalEngine {
  /** Its name, reported in the result (e.g. 'onnx', 'reference'). */
  readonly kind: string;
  lossAndGrad(
    params: Float32Array,
    x: Float32Array,
    y: Float32Array,
    batch: number,
    grad?: Float32Array,
  ): Promise<{ loss: number; correct: number; grad: Float32Array }>;
  dispose(): Promise<void>;
}

/** Builds the engine of a network (e.g. @nnq/engine-onnx's createTrainingEngine); trainLocal disposes it. */
export type LocalEngineFactory = (spec: NetworkSpec) => Promise<LocalEngine>;

export interface LocalRunOptions {
  /** The compute engine: training imports none, its caller chooses (ARCHITECTURE.md). */
  engine: LocalEngineFactory;
  /** The dataset already loaded (else loaded from config.dataset.source). */
  dataset?: Dataset;
  onStep?: (r: StepRecord) => void;
  onEvaluation?: (e: Evaluation) => void;
  signal?: AbortSignal;
  /** A second-order optimizer (parseLocalRunConfig): it replaces config.optimizer, a stand-in then. */
  secondOrder?: SecondOrderConfig | null;
}

export interface LocalRunResult {
  params: Float32Array;
  setup: RunSetup;
  steps: StepRecord[];
  evaluations: Evaluation[];
  engine: string;
  /** Why a second-order optimizer ended the run before its last step (converged, or what failed). */
  stopped?: string;
}

/** When to evaluate after step t: every `every` steps, or at epoch ends when every is 0, and at the end. */
export function evaluatesAfter(config: RunConfig, setup: RunSetup, t: number): boolean {
  const last = t === setup.plan.totalSteps - 1;
  if (last) return true;
  return config.evaluation.every > 0 ? (t + 1) % config.evaluation.every === 0 : setup.plan.endsEpoch(t);
}

/**
 * The in-process trainer: the same steps as the cluster (same shards, same shard-order sum, same
 * optimizer) without queues. It is the reference of the equivalence tests and `nnq train --local`.
 */
export async function trainLocal(config: RunConfig, options: LocalRunOptions): Promise<LocalRunResult> {
  if (options.secondOrder) return trainSecondOrder(config, options.secondOrder, options);
  const run = await openLocalRun(config, options);
  const { setup, engine, gather } = run;
  try {
    const buffers = Array.from({ length: config.shards }, () => new Float32Array(setup.paramCount));
    const params = initialParams(config);
    const state = createOptimizerState(config.optimizer, setup.paramCount);
    const perms = new PermutationCache(setup.splits.train.length, config.seed);
    // a skipped update that overflowed a parameter is undone (the coordinator's driver does the same)
    const undo = config.onNonFinite === 'skip' ? new StepUndo() : null;
    let skippedInARow = 0;
    const steps: StepRecord[] = [];
    const evaluations: Evaluation[] = [];
    const evaluate = localEvaluator(config, run, options, evaluations);
    for (let t = 0; t < setup.plan.totalSteps; t++) {
      if (options.signal?.aborted) throw new Error('cancelled');
      const results = [];
      for (const r of setup.plan.shardsOf(t)) {
        const rows = rowsOf(setup.splits.train, perms.get(r.epoch), r.start, r.end);
        const compute: LossAndGradFn = (p, x, y, n) => engine.lossAndGrad(p, x, y, n, buffers[r.shard]);
        const shard = await computeShard(gather, compute, setup.preprocessing, params, rows);
        // what a transfer at config.gradientTransfer gives the coordinator (a no-op for float32)
        roundToPrecision(shard.grad, config.gradientTransfer);
        results.push(shard);
      }
      const at = { t, epoch: setup.plan.epochOf(t) };
      const { record: rec, nonFinite } = updateStep(config, params, sumShards(results), state, at, setup.mask, undo);
      if (nonFinite) {
        if (config.onNonFinite === 'fail') throw new NonFiniteError(t, nonFinite);
        if (++skippedInARow >= MAX_SKIPPED_IN_A_ROW) throw new NonFiniteError(t, 'skips');
        steps.push(rec);
        options.onStep?.(rec);
        continue;
      }
      skippedInARow = 0;
      steps.push(rec);
      options.onStep?.(rec);
      if (evaluatesAfter(config, setup, t)) {
        await evaluate('validation', t + 1, params);
        if (t === setup.plan.totalSteps - 1) await evaluate('test', t + 1, params);
      }
    }
    return { params, setup, steps, evaluations, engine: engine.kind };
  } finally {
    await engine.dispose();
  }
}

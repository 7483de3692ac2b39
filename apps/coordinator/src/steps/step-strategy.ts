import type { OptimizerState } from '@nnq/nn';
import type { StepRecord } from '@nnq/training';
import type { SecondOrderCheckpoint } from './second-order-checkpoint';

/**
 * What one step reports to the run's loop: its history entry (before timing) and the step metric;
 * `stopped`: a second-order optimizer cannot go on (the run completes after this step, saying why).
 */
export type StepOutcome = StepRecord & { stopped?: string };

/** Parameters and optimizer state before a step: what a checkpoint holds and a model is written from. */
export interface StepState {
  params: Float32Array;
  state: OptimizerState;
  /** A second-order run's optimizer state and float64 parameters (second-order-step.ts). */
  secondOrder?: SecondOrderCheckpoint;
}

/**
 * One synchronous step of a run, however it is computed (docs/deploy.md "Redis traffic per step"):
 * - central (central-step.ts): workers send whole gradients, the coordinator sums and updates;
 * - sliced (sliced-step.ts): workers reduce slices of the gradient and update them, the coordinator orders;
 * - room for a third, "replicated": workers keep the parameters and exchange gradients, the coordinator
 *   orders and pulls state for checkpoints only.
 * The loop (RunDriver: evaluations, checkpoints, progress, the run's end) knows a strategy only by
 * this interface. Every strategy gives the bytes of trainLocal (the same shards, sum order and optimizer).
 */
export interface StepStrategy {
  /**
   * Start or resume before step `step` from these parameters and state; parameters `step` are
   * already in Redis, the run's version is set after this.
   */
  init(start: StepState, step: number): Promise<void>;
  /**
   * Step t: parameters t+1 are published when it resolves (a skipped step publishes a copy of t).
   * Throws NonFiniteError for a non-finite step under `onNonFinite: "fail"` (parameters t are kept),
   * CancelledError when `signal` aborts.
   */
  step(t: number, signal: AbortSignal): Promise<StepOutcome>;
  /** Parameters and optimizer state before step `step` (after step step-1): checkpoints, the model. */
  pull(step: number): Promise<StepState>;
  /**
   * The parameters of the last step done (`step` of them), when finite: the model of a failed run.
   * Never throws (the run is already failing).
   */
  lastFiniteParams(step: number): Promise<Float32Array | undefined>;
}

import type { Evaluation } from '@nnq/training';

export const RUN_STATES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export type RunState = (typeof RUN_STATES)[number];

/** A run as the API shows it; persisted as JSON in Redis (runState key). */
export interface RunRecord {
  id: string;
  name: string;
  state: RunState;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** Steps completed (= parameter version). */
  step: number;
  totalSteps: number;
  epoch: number;
  epochs: number;
  batchSize: number;
  shards: number;
  datasetId: string;
  paramCount: number;
  /** Mean loss and accuracy of the last step's batch. */
  loss?: number;
  accuracy?: number;
  validation?: Evaluation;
  test?: Evaluation;
  samplesPerSecond?: number;
  etaSeconds?: number;
  /** Last step whose parameters were checkpointed. */
  checkpointStep?: number;
  skippedSteps: number;
  error?: { reason: string; step: number };
}

/** One line of a run's history. */
export type HistoryEntry =
  | {
      type: 'step';
      step: number;
      epoch: number;
      loss: number;
      accuracy: number;
      lr: number;
      gradNorm: number;
      /** Time inside the step: dispatch to publish. */
      seconds: number;
      /** When the step ended (ms since the epoch): step rates from wall time, bookkeeping included. */
      at?: number;
      skipped?: boolean;
    }
  | ({ type: 'evaluation' } & Evaluation);

export function isTerminal(state: RunState): boolean {
  return state === 'completed' || state === 'failed' || state === 'cancelled';
}

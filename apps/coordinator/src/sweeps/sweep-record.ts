import type { RungEntry, TrialParams } from '@nnq/training';

export const SWEEP_STATES = ['running', 'completed', 'cancelled', 'failed'] as const;
export type SweepState = (typeof SWEEP_STATES)[number];

/**
 * A trial's state: a run's (queued, running, completed, failed, cancelled), `pending` before its
 * run exists, and `stopped` when the sweep's early-stopping rule ended it.
 */
export type TrialState = 'pending' | 'queued' | 'running' | 'completed' | 'stopped' | 'failed' | 'cancelled';

export interface SweepTrial {
  index: number;
  /** `<sweep>-t<index>`: the name of its run. */
  name: string;
  params: TrialParams;
  state: TrialState;
  runId?: string;
  createdAt: string;
  finishedAt?: string;
  /** Best objective value so far (on the objective's split). */
  best?: number;
  /** Steps completed by its run, of totalSteps. */
  step: number;
  totalSteps: number;
  epoch: number;
  epochs: number;
  /** Validation objective as a loss (lower is better) by epoch: what early stopping reads. */
  curve: Array<{ epoch: number; loss: number }>;
  /** Step of the last evaluation read from the run's history. */
  evaluatedStep: number;
  /** ASHA rung epochs this trial has reported at. */
  reported: number[];
  stopReason?: string;
  error?: string;
}

/** A sweep as the API shows it; persisted as JSON in Redis (sweepState key). */
export interface SweepRecord {
  id: string;
  name: string;
  state: SweepState;
  createdAt: string;
  finishedAt?: string;
  /** The sweep config as submitted. */
  config: unknown;
  /** Trials the sweep will run (maxTrials, or the grid's size when smaller). */
  planned: number;
  objective: { metric: 'accuracy' | 'loss'; split: 'validation' | 'test'; mode: 'max' | 'min' };
  trials: SweepTrial[];
  /** ASHA: the losses reported at each rung epoch, in report order. */
  rungs: Record<string, RungEntry[]>;
  /** The best trial so far. */
  best?: { index: number; runId?: string; value: number; params: TrialParams };
  error?: string;
}

export function isSweepTerminal(state: SweepState): boolean {
  return state !== 'running';
}

export function isTrialActive(state: TrialState): boolean {
  return state === 'pending' || state === 'queued' || state === 'running';
}

import type { TrialParams } from './search-space';
import type { SweepConfig } from './sweep-config';
import { objectiveLoss, suggestTrial } from './sweep-plan';
import type { Observation } from './tpe';

/** What the proposer needs of a trial: its place, its parameters, whether it has ended, its best value. */
export interface TrialOutcome {
  index: number;
  params: TrialParams;
  ended: boolean;
  /** Best objective value; undefined when it never reached an evaluation (or failed). */
  best?: number;
}

/**
 * How many of the first trials must have ended before trial k is proposed: with TPE past its random
 * start-up, trials 0..k-C for C = maxConcurrent, so trial k learns from those alone, whatever order
 * the running ones finish in; 0 for grid, random and TPE's start-up draws (they ignore outcomes).
 *
 * With C = 1 that is every earlier trial (the sequential TPE). With C > 1 the proposal no longer
 * depends on completion order; the cost is that trial k waits while one of trials 0..k-C still
 * runs (a free slot may stay idle) and learns from C - 1 fewer trials than a greedy proposer could.
 */
export function trialsBefore(sweep: SweepConfig, k: number): number {
  const m = sweep.method;
  if (m.type !== 'tpe' || k < m.startupTrials) return 0;
  return Math.max(0, k - sweep.budget.maxConcurrent + 1);
}

/**
 * Trial k's parameters when they can be proposed reproducibly (a function of the seed and of trials
 * 0..trialsBefore(k)-1, all ended), else null: wait for those trials. `trials` are the sweep's
 * trials so far, any order.
 */
export function proposeTrial(sweep: SweepConfig, k: number, trials: readonly TrialOutcome[]): TrialParams | null {
  const n = trialsBefore(sweep, k);
  const first = trials.filter((t) => t.index < n).sort((a, b) => a.index - b.index);
  if (first.length < n || first.some((t) => !t.ended)) return null;
  const observations: Observation[] = first
    .filter((t) => t.best !== undefined)
    .map((t) => ({ params: t.params, loss: objectiveLoss(sweep.objective, t.best!) }));
  return suggestTrial(sweep, k, observations);
}

import { ashaDecide, ashaRungs, type RungEntry } from './asha';
import { gridPoint } from './grid';
import { medianStop, type Curve } from './median-stopping';
import { sampleRandom } from './random';
import { isCategorical, type Parameter, type TrialParams } from './search-space';
import type { SweepConfig } from './sweep-config';
import { suggestTpe, type Observation } from './tpe';

/**
 * Parameters of trial k. Grid: grid point k of the categorical parameters, numeric ones drawn as
 * random search would. Random: a function of (seed, k). TPE: of (seed, k, observations).
 */
export function suggestTrial(sweep: SweepConfig, k: number, observations: readonly Observation[]): TrialParams {
  const space = sweep.space as Record<string, Parameter>;
  const m = sweep.method;
  if (m.type === 'tpe') return suggestTpe(space, sweep.seed, k, observations, m);
  const drawn = sampleRandom(space, sweep.seed, k);
  if (m.type === 'random') return drawn;
  const point = gridPoint(space, k);
  return Object.fromEntries(
    Object.entries(space).map(([path, p]) => [path, isCategorical(p) ? point[path] : drawn[path]]),
  );
}

/** The objective as a loss: lower is better (a maximised metric is negated). */
export function objectiveLoss(objective: SweepConfig['objective'], value: number): number {
  return objective.mode === 'max' ? -value : value;
}

/** The better of two objective values (undefined loses). */
export function bestOf(mode: 'max' | 'min', a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined || Number.isNaN(a)) return b;
  if (b === undefined || Number.isNaN(b)) return a;
  return mode === 'max' ? Math.max(a, b) : Math.min(a, b);
}

/** Sort by objective, best first; trials without a value last; ties by trial index. */
export function rankByObjective<T extends { index: number; best?: number }>(
  trials: readonly T[],
  mode: 'max' | 'min',
): T[] {
  const key = (t: T) => (t.best === undefined || Number.isNaN(t.best) ? Infinity : mode === 'max' ? -t.best : t.best);
  return [...trials].sort((a, b) => key(a) - key(b) || a.index - b.index);
}

export interface TrialReview {
  /** Why to stop the trial now, or undefined to let it run. */
  stop?: string;
  /** The rung tables with this trial's new reports (ASHA). */
  rungs: Record<string, RungEntry[]>;
  /** Rung epochs this trial has reported at. */
  reported: number[];
}

/**
 * Apply the sweep's early-stopping rule to a trial's curve (its objective-metric losses on the
 * validation split by epoch). ASHA: the trial reports at each rung it has passed and not yet
 * reported at, in rung order, with its first evaluation at or past the rung; a `stop` ends it.
 * Median stopping: decided at the curve's last point against the completed trials' curves.
 */
export function reviewTrial(
  sweep: SweepConfig,
  input: {
    trial: number;
    maxEpochs: number;
    curve: Curve;
    reported: readonly number[];
    rungs: Record<string, RungEntry[]>;
    completed: readonly Curve[];
    /** False for a trial that has ended: record its rung reports, decide nothing. */
    decide?: boolean;
  },
): TrialReview {
  const decide = input.decide ?? true;
  const s = sweep.scheduler;
  const rungs = { ...input.rungs };
  const reported = [...input.reported];
  if (s.type === 'asha') {
    for (const e of ashaRungs(s, input.maxEpochs)) {
      if (reported.includes(e)) continue;
      const point = input.curve.find((p) => p.epoch >= e - 1e-9);
      if (!point) break;
      const r = ashaDecide(rungs[String(e)] ?? [], input.trial, point.loss, s.reductionFactor);
      rungs[String(e)] = r.entries;
      reported.push(e);
      if (r.decision === 'stop' && decide) {
        const keep = Math.ceil(r.entries.length / s.reductionFactor);
        return { stop: `ASHA rung at epoch ${e}: not in the top ${keep} of ${r.entries.length}`, rungs, reported };
      }
    }
  } else if (s.type === 'median' && decide && medianStop(input.curve, input.completed, s)) {
    const e = input.curve[input.curve.length - 1].epoch;
    return {
      stop: `median stopping at epoch ${e}: best so far is worse than the completed trials' median`,
      rungs,
      reported,
    };
  }
  return { rungs, reported };
}

import { median } from '@nnq/training';

/** The shortest wait of a job queued a step ahead: steps faster than this never make it give up. */
export const AHEAD_WAIT_MIN_MS = 250;
/** The longest: a job ahead holds its slot at most this long (a job of the step before may need it). */
export const AHEAD_WAIT_MAX_MS = 5_000;
/** A job ahead waits this many step intervals before it goes back to the queue. */
const STEPS_OF_WAIT = 2;
/** The estimate is the median of this many latest intervals: one slow step (a fault) does not move it. */
const WINDOW = 5;

/**
 * How fast a run's parameter versions come out, as this worker sees them, and so how long a job
 * queued a step ahead should wait for the next version. A fixed wait shorter than a step (slow
 * steps: a large model, a loaded machine) sent nearly every such job back to the queue, where it
 * sat out its delay after the parameters were out, on the step's critical path. A median, not a
 * mean: the slow steps of a fault (a worker killed mid-shard) must not make the jobs ahead hold
 * their slots longer while the fault's retried job waits for one.
 */
export class StepPace {
  private last?: { version: number; at: number };
  private readonly intervals: number[] = [];

  /** Parameters `version` became available at `at` (ms). Only consecutive versions are timed. */
  saw(version: number, at = Date.now()): void {
    const last = this.last;
    if (last && version <= last.version) return;
    if (last && version === last.version + 1) {
      this.intervals.push(at - last.at);
      if (this.intervals.length > WINDOW) this.intervals.shift();
    }
    this.last = { version, at };
  }

  /** How long a job a step ahead waits for its parameters before it goes back to the queue. */
  aheadWaitMs(): number {
    const want = this.intervals.length ? STEPS_OF_WAIT * median(this.intervals) : 0;
    return Math.round(Math.min(AHEAD_WAIT_MAX_MS, Math.max(AHEAD_WAIT_MIN_MS, want)));
  }
}

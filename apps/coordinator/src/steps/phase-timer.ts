import type { CoordinatorMetrics, StepPhase } from '../coordinator.metrics';

/**
 * Times the phases of one step on the coordinator (nnq_step_phase_seconds): `lap(p)` counts the
 * time since the last lap under phase p, so phases that come back (a sliced step dispatches and
 * waits twice) add up; `report()` observes each phase lapped once per step. Sub-millisecond, from
 * the monotonic clock.
 */
export class PhaseTimer {
  private last = process.hrtime.bigint();
  private readonly spent = new Map<StepPhase, number>();

  constructor(private readonly metrics: Pick<CoordinatorMetrics, 'phase'>) {}

  /** Count the time since the last lap under `phase`; `adjust` (seconds) moves time counted under another. */
  lap(phase: StepPhase, adjust = 0): void {
    const now = process.hrtime.bigint();
    this.add(phase, Number(now - this.last) / 1e9 + adjust);
    this.last = now;
  }

  /** Count `seconds` measured elsewhere under `phase` (the sums that overlapped a wait). */
  add(phase: StepPhase, seconds: number): void {
    this.spent.set(phase, (this.spent.get(phase) ?? 0) + seconds);
  }

  /** Observe every phase counted so far, once, and start over. */
  report(): void {
    for (const [phase, seconds] of this.spent) this.metrics.phase(phase, seconds);
    this.spent.clear();
  }
}

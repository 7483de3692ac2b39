import { BadRequestException, Logger, NotFoundException } from '@nestjs/common';
import {
  bestOf,
  objectiveLoss,
  proposeTrial,
  rankByObjective,
  reviewTrial,
  trialConfig,
  type SweepConfig,
  type TrialParams,
} from '@nnq/sweeps';
import { isTerminal, type RunRecord } from '@nnq/protocol';
import type { RunsService } from '../runs/runs.service';
import { isTrialActive, type SweepRecord, type SweepTrial } from '@nnq/protocol';
import type { SweepStore } from './sweep-store.service';

const POLL_MS = 250;

/**
 * The scheduler loop of one sweep: keeps at most maxConcurrent trials running as ordinary runs,
 * reads each trial's evaluations from its run's history, applies the early-stopping rule and
 * stops a trial by cancelling its run (recorded as `stopped`), proposes the next trial, and saves
 * the sweep after every change, so a restarted coordinator continues where this one was.
 */
export class SweepRunner {
  private readonly logger: Logger;
  private cancelRequested = false;
  private stopping = false;
  private wake?: () => void;
  private adopted = false;

  constructor(
    private record: SweepRecord,
    private readonly config: SweepConfig,
    private readonly runs: RunsService,
    private readonly store: SweepStore,
  ) {
    this.logger = new Logger(`Sweep ${record.id}`);
  }

  current(): SweepRecord {
    return this.record;
  }

  /** Cancel the sweep: its active trials are cancelled, the sweep ends `cancelled`. */
  cancel(): void {
    this.cancelRequested = true;
    this.wake?.();
  }

  /** Coordinator shutdown: stop scheduling, leave the state for the next coordinator. */
  shutdown(): void {
    this.stopping = true;
    this.wake?.();
  }

  async run(): Promise<SweepRecord> {
    while (!this.stopping) {
      try {
        if (await this.tick()) break;
      } catch (err) {
        this.logger.warn(`tick failed (retrying): ${(err as Error).message}`);
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, POLL_MS);
        this.wake = () => (clearTimeout(t), r());
      });
    }
    return this.record;
  }

  /** One pass; true when the sweep has ended. */
  private async tick(): Promise<boolean> {
    if (this.cancelRequested) return this.finish('cancelled');
    if (!this.adopted) await this.adoptAfterRestart();
    for (const t of this.record.trials) if (isTrialActive(t.state) && t.runId) await this.refresh(t);
    // launch while there is a free share of the pool
    const active = () => this.record.trials.filter((t) => isTrialActive(t.state)).length;
    while (!this.stopping && !this.cancelRequested && active() < this.config.budget.maxConcurrent) {
      const pending = this.record.trials.find((t) => t.state === 'pending' && !t.runId);
      if (pending) await this.launch(pending);
      else if (this.record.trials.length >= this.record.planned) break;
      else {
        // TPE waits for the trials its proposal learns from (proposal.ts): the same sweep proposes
        // the same trials however its runs finish
        const params = this.proposal();
        if (!params) break;
        await this.launch(this.propose(params));
      }
    }
    if (this.record.trials.length >= this.record.planned && active() === 0) return this.finish('completed');
    return false;
  }

  /** After a restart: a trial left pending may have its run already; a stopped trial's run may still run. */
  private async adoptAfterRestart(): Promise<void> {
    this.adopted = true;
    const orphans = this.record.trials.filter((t) => t.state === 'pending' && !t.runId);
    if (orphans.length) {
      const runs = await this.runs.list();
      for (const t of orphans) {
        const run = runs.find((r) => r.name === t.name && r.createdAt >= t.createdAt);
        if (run) t.runId = run.id;
      }
    }
    for (const t of this.record.trials) {
      if (t.state !== 'stopped' || !t.runId) continue;
      const run = await this.runs.get(t.runId).catch(() => undefined);
      if (run && !isTerminal(run.state)) this.fromRun(t, await this.runs.cancel(t.runId));
    }
    await this.save();
  }

  /**
   * The next trial's parameters from the method and the trials before it that have ended
   * (completed and stopped ones count), or null while one of those it learns from still runs.
   */
  private proposal(): TrialParams | null {
    const outcomes = this.record.trials.map((t) => ({
      index: t.index,
      params: t.params,
      ended: !isTrialActive(t.state),
      best: t.state === 'completed' || t.state === 'stopped' ? t.best : undefined,
    }));
    return proposeTrial(this.config, this.record.trials.length, outcomes);
  }

  private propose(params: TrialParams): SweepTrial {
    const k = this.record.trials.length;
    const trial: SweepTrial = {
      index: k,
      name: `${this.record.name}-t${k}`,
      params,
      state: 'pending',
      createdAt: new Date().toISOString(),
      step: 0,
      totalSteps: 0,
      epoch: 0,
      epochs: 0,
      curve: [],
      evaluatedStep: 0,
      reported: [],
    };
    this.record.trials.push(trial);
    return trial;
  }

  private async launch(t: SweepTrial): Promise<void> {
    await this.save(); // the trial exists before its run does
    try {
      const run = await this.runs.submit(trialConfig(this.config, t.index, t.params));
      t.runId = run.id;
      this.fromRun(t, run);
      this.logger.log(`trial ${t.index} is run ${run.id}: ${JSON.stringify(t.params)}`);
    } catch (err) {
      // a trial the coordinator refuses is recorded, not fatal
      const res = err instanceof BadRequestException ? (err.getResponse() as { problems?: string[] }) : undefined;
      t.state = 'failed';
      t.error = res?.problems?.join('; ') ?? (err as Error).message;
      t.finishedAt = new Date().toISOString();
      this.logger.warn(`trial ${t.index} refused: ${t.error}`);
    }
    await this.save();
  }

  /** Read the trial's run: progress, new evaluations, end; then the early-stopping rule. */
  private async refresh(t: SweepTrial): Promise<void> {
    let run: RunRecord;
    try {
      run = await this.runs.get(t.runId!);
    } catch (err) {
      if (!(err instanceof NotFoundException)) throw err;
      Object.assign(t, { state: 'failed', error: 'its run is gone', finishedAt: new Date().toISOString() });
      return this.save();
    }
    const before = JSON.stringify(t);
    this.fromRun(t, run);
    const lastEval = Math.max(run.validation?.step ?? 0, run.test?.step ?? 0);
    if (lastEval > t.evaluatedStep) await this.readEvaluations(t, run);
    const ended = isTerminal(run.state);
    if (ended) {
      t.state = run.state;
      t.finishedAt = run.finishedAt;
      if (run.error) t.error = run.error.reason;
    }
    if (this.config.scheduler.type !== 'none' && t.curve.length) {
      // an ended trial still reports at the rungs it passed: later trials are ranked against it
      const review = reviewTrial(this.config, {
        trial: t.index,
        maxEpochs: run.epochs,
        curve: t.curve,
        reported: t.reported,
        rungs: this.record.rungs,
        completed: this.record.trials.filter((o) => o.state === 'completed').map((o) => o.curve),
        decide: !ended,
      });
      this.record.rungs = review.rungs;
      t.reported = review.reported;
      if (review.stop) await this.stopTrial(t, review.stop);
    }
    if (JSON.stringify(t) !== before) await this.save();
  }

  private async readEvaluations(t: SweepTrial, run: RunRecord): Promise<void> {
    const { metric, split } = this.config.objective;
    const stepsPerEpoch = run.totalSteps / run.epochs;
    for (const e of await this.runs.history(t.runId!)) {
      if (e.type !== 'evaluation' || e.step <= t.evaluatedStep) continue;
      const value = e[metric];
      if (e.split === 'validation')
        t.curve.push({ epoch: e.step / stepsPerEpoch, loss: objectiveLoss(this.config.objective, value) });
      if (e.split === split) t.best = bestOf(this.config.objective.mode, t.best, value);
    }
    t.evaluatedStep = Math.max(run.validation?.step ?? 0, run.test?.step ?? 0);
  }

  /** Early stop: recorded as `stopped` before the run is cancelled, so a restart finishes the job. */
  private async stopTrial(t: SweepTrial, reason: string): Promise<void> {
    t.state = 'stopped';
    t.stopReason = reason;
    t.finishedAt = new Date().toISOString();
    await this.save();
    this.logger.log(`trial ${t.index} stopped at epoch ${t.epoch}: ${reason}`);
    this.fromRun(t, await this.runs.cancel(t.runId!));
  }

  private fromRun(t: SweepTrial, run: RunRecord): void {
    Object.assign(t, { step: run.step, totalSteps: run.totalSteps, epoch: run.epoch, epochs: run.epochs });
    if (t.state === 'pending' || t.state === 'queued' || t.state === 'running') {
      if (!isTerminal(run.state)) t.state = run.state;
    }
  }

  private async finish(state: 'completed' | 'cancelled'): Promise<true> {
    if (state === 'cancelled') {
      for (const t of this.record.trials) {
        if (!isTrialActive(t.state)) continue;
        if (t.runId) this.fromRun(t, await this.runs.cancel(t.runId).catch(() => this.runs.get(t.runId!)));
        Object.assign(t, { state: 'cancelled', finishedAt: new Date().toISOString() });
      }
    }
    const scored = this.record.trials.filter((t) => t.best !== undefined);
    if (state === 'completed' && !scored.length) {
      this.record.error = 'no trial reached an evaluation';
    }
    this.record.state = state === 'completed' && !scored.length ? 'failed' : state;
    this.record.finishedAt = new Date().toISOString();
    await this.save();
    this.logger.log(`sweep ${this.record.state}; best ${JSON.stringify(this.record.best ?? null)}`);
    return true;
  }

  private async save(): Promise<void> {
    const [top] = rankByObjective(
      this.record.trials.filter((t) => t.best !== undefined),
      this.config.objective.mode,
    );
    this.record.best = top && { index: top.index, runId: top.runId, value: top.best!, params: top.params };
    await this.store.save(this.record);
  }
}

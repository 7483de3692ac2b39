import { Logger } from '@nestjs/common';
import {
  writeModel,
  createOptimizerState,
  deserializeOptimizerState,
  serializeOptimizerState,
  type SecondOrderConfig,
} from '@nnq/nn';
import { encodeFloat32, type FitCurve, type HistoryEntry, type RunRecord } from '@nnq/protocol';
import {
  combineParts,
  evaluatesAfter,
  fitCurve,
  fitCurveDue,
  initialParams,
  MAX_SKIPPED_IN_A_ROW,
  NonFiniteError,
  stepStrategyOf,
  type EvalPart,
  type Evaluation,
  type RunConfig,
  type RunSetup,
  type SplitName,
} from '@nnq/training';
import { CentralStep } from '../steps/central-step';
import { ReplicatedStep } from '../steps/replicated-step';
import { decodeSecondOrderCheckpoint, encodeSecondOrderCheckpoint } from '../steps/second-order-checkpoint';
import { SecondOrderStep } from '../steps/second-order-step';
import { SlicedStep } from '../steps/sliced-step';
import type { StepState, StepStrategy } from '../steps/step-strategy';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from './checkpoint';
import { CurvatureEval } from './curvature-eval';
import { failRun, finishRun, trailingSkips } from './run-end';
import { CancelledError } from './shard-waiter';
import { evaluateJobs } from './step-jobs';
import type { DriverDeps } from './driver-deps';

/** A run's record and history reach Redis at least this often while it trains (GET /runs/:id reads them). */
const PROGRESS_EVERY_MS = 200;

/**
 * Drives one run, step by synchronous step, with the run's step strategy (apps/coordinator/src/steps:
 * central, sliced or replicated; each makes parameters t+1 available before its step resolves). Evaluations and
 * checkpoints at their cadence, progress, the run's end. Stateless between steps except for what
 * a checkpoint holds, so a restarted coordinator resumes from its last checkpoint.
 */
export class RunDriver {
  private readonly logger: Logger;
  private readonly abort = new AbortController();
  /** Steps skipped as non-finite in a row (MAX_SKIPPED_IN_A_ROW of them fail the run). */
  private skippedInARow = 0;
  /** Step of the last fit curve drawn (fitCurveAt). */
  private lastCurveStep = -Infinity;
  /** How the run's steps are computed: central, sliced or replicated (reduce.strategy, stepStrategyOf). */
  private readonly steps: StepStrategy;
  /** evaluation.curvature: the Hessian's top eigenvalue and trace at the first evaluation of a step. */
  private readonly curvature: CurvatureEval;
  /** History entries of steps done since the record was last saved, and when that was. */
  private unsaved: HistoryEntry[] = [];
  private savedAt = 0;

  constructor(
    private readonly deps: DriverDeps,
    private record: RunRecord,
    private readonly config: RunConfig,
    private readonly setup: RunSetup,
    /** lbfgs or hessian_free: the run's steps are outer steps of it (config.optimizer is a stand-in). */
    private readonly secondOrder: SecondOrderConfig | null = null,
  ) {
    this.logger = new Logger(`Run ${record.id}`);
    const Strategy = { central: CentralStep, sliced: SlicedStep, replicated: ReplicatedStep }[stepStrategyOf(config)];
    this.steps = secondOrder
      ? new SecondOrderStep(deps, record.id, config, setup, this.logger, secondOrder)
      : new Strategy(deps, record.id, config, setup, this.logger);
    this.curvature = new CurvatureEval(config, setup, this.logger);
  }

  private stopping = false;

  cancel(): void {
    this.abort.abort();
  }

  /** Coordinator shutdown: stop driving, leave the run's state for the next coordinator to resume. */
  shutdown(): void {
    this.stopping = true;
    this.abort.abort();
  }

  get id(): string {
    return this.record.id;
  }

  /**
   * Train to the end; resolves with the final record (completed, failed or cancelled), never
   * rejects: whatever throws ends the run as failed with the reason, and every end removes the
   * run's queued jobs and transient keys (run-end.ts).
   */
  async run(): Promise<RunRecord> {
    try {
      await this.train();
    } catch (err) {
      if (this.stopping) {
        this.logger.log(`stopped at step ${this.record.step}; the next coordinator resumes it`);
        return this.record;
      }
      if (err instanceof CancelledError || this.abort.signal.aborted) {
        this.record = { ...this.record, state: 'cancelled', finishedAt: new Date().toISOString() };
      } else {
        this.record = await failRun(this.record, err, this.logger, async () => {
          const params = await this.steps.lastFiniteParams(this.record.step);
          if (params) await this.writeModel(params);
          return !!params;
        });
      }
    }
    await finishRun(this.deps, this.record, this.unsaved.splice(0), this.logger);
    return this.record;
  }

  private async train(): Promise<void> {
    const { store } = this.deps;
    const id = this.record.id;
    await this.restore();
    this.record = { ...this.record, state: 'running', startedAt: this.record.startedAt ?? new Date().toISOString() };
    await store.save(this.record);
    const plan = this.setup.plan;
    let windowStart = Date.now();
    let windowRows = 0;
    for (let t = this.record.step; t < plan.totalSteps; t++) {
      // sub-millisecond: a fast step takes a few ms, and a whole-ms count hides a 30% change
      const stepStart = performance.now();
      const { stopped, ...outcome } = await this.steps.step(t, this.abort.signal);
      this.skippedInARow = outcome.skipped ? this.skippedInARow + 1 : 0;
      if (this.skippedInARow >= MAX_SKIPPED_IN_A_ROW) throw new NonFiniteError(t, 'skips', { paramsKept: true });
      windowRows += this.config.batchSize;
      const elapsed = (Date.now() - windowStart) / 1000;
      const sps = elapsed > 0 ? windowRows / elapsed : 0;
      if (elapsed > 5) {
        windowStart = Date.now();
        windowRows = 0;
      }
      const history: HistoryEntry[] = [
        { type: 'step', ...outcome, seconds: (performance.now() - stepStart) / 1000, at: Date.now() },
      ];
      this.record = {
        ...this.record,
        step: t + 1,
        epoch: plan.epochOf(t),
        loss: outcome.skipped ? this.record.loss : outcome.loss,
        accuracy: outcome.skipped ? this.record.accuracy : outcome.accuracy,
        skippedSteps: this.record.skippedSteps + (outcome.skipped ? 1 : 0),
        samplesPerSecond: sps,
        etaSeconds: sps > 0 ? ((plan.totalSteps - t - 1) * this.config.batchSize) / sps : undefined,
      };
      // a second-order optimizer that stops ends the run here, evaluated as its last step
      if (stopped) this.record = { ...this.record, stopped };
      if (evaluatesAfter(this.config, this.setup, t) || stopped) {
        const last = t === plan.totalSteps - 1 || !!stopped;
        for (const split of ['validation', ...(last ? ['test'] : [])] as SplitName[]) {
          const found = await this.evaluate(split, t + 1);
          const ev = found && { ...found, ...(await this.curvature.at(t + 1, this.steps)) };
          if (ev) {
            history.push({ type: 'evaluation', ...ev, ...(await this.fitCurveAt(t + 1, history)) });
            this.record = { ...this.record, [split]: ev };
            this.deps.metrics.evaluation(id, ev);
          }
        }
      }
      // the engine its first shards claimed (shard results of another are refused: engine-claim.ts)
      if (!this.record.engine) {
        const engine = await this.deps.redis.get(this.deps.keys.runEngine(id));
        if (engine) this.record = { ...this.record, engine };
      }
      this.unsaved.push(...history);
      // none after a stop: a run resumed from it would take a step the stopped run did not
      const checkpoints = !stopped && this.config.checkpoint.every > 0 && (t + 1) % this.config.checkpoint.every === 0;
      if (checkpoints) await this.checkpoint(t + 1, await this.steps.pull(t + 1));
      // a checkpoint's or an evaluation's progress is saved at once (a resumed run keeps
      // history up to its checkpoint); other steps' at most every PROGRESS_EVERY_MS
      await this.saveProgress(checkpoints || history.length > 1);
      if (stopped) break;
    }
    await this.writeModel((await this.steps.pull(plan.totalSteps)).params);
    this.record = { ...this.record, state: 'completed', finishedAt: new Date().toISOString(), etaSeconds: 0 };
  }

  /**
   * Save the record and the history entries not saved yet (one round trip): when `now`, or when
   * the last save is PROGRESS_EVERY_MS old. Saving every step cost fast runs a round trip and
   * CPU that the workers' compute competes for.
   */
  private async saveProgress(now: boolean): Promise<void> {
    if (!now && Date.now() - this.savedAt < PROGRESS_EVERY_MS) return;
    await this.deps.store.saveProgress(this.record, this.unsaved.splice(0));
    this.savedAt = Date.now();
  }

  /** Start from the checkpoint when there is one, else from the seed's initial parameters. */
  private async restore(): Promise<void> {
    const ck = await this.newestCheckpoint();
    let start: StepState;
    if (ck) {
      const size = this.setup.paramCount;
      start = this.secondOrder
        ? {
            params: ck.params,
            state: createOptimizerState(this.config.optimizer, size),
            secondOrder: decodeSecondOrderCheckpoint(ck.optimizer, size),
          }
        : {
            params: ck.params,
            state: deserializeOptimizerState(ck.optimizer, { config: this.config.optimizer, size }),
          };
      this.record = { ...this.record, step: ck.step, skippedSteps: ck.skippedSteps, checkpointStep: ck.step };
      await this.deps.store.truncateHistory(this.record.id, ck.step);
      this.skippedInARow = trailingSkips(await this.deps.store.history(this.record.id));
      this.logger.log(`resuming from the checkpoint of step ${ck.step}`);
    } else {
      start = {
        params: initialParams(this.config),
        state: createOptimizerState(this.config.optimizer, this.setup.paramCount),
      };
      this.record = { ...this.record, step: 0, skippedSteps: 0 };
      await this.deps.store.truncateHistory(this.record.id, 0);
    }
    const { redis, keys } = this.deps;
    await redis.set(keys.params(this.record.id, this.record.step), encodeFloat32(start.params));
    await this.steps.init(start, this.record.step);
    // workers tell waiting, early (jobs left by the previous coordinator) and past jobs apart by it
    await redis.set(keys.paramsVersion(this.record.id), this.record.step);
  }

  /**
   * A 1-D regression run's prediction against its target on its fixed grid at `version`: on the
   * first evaluation entry of the step only (the dashboard draws it, updated at each evaluation),
   * at most MAX_FIT_CURVES of them spread over the run (the history stays bounded) and at the end.
   */
  private async fitCurveAt(version: number, history: HistoryEntry[]): Promise<{ curve?: FitCurve }> {
    const grid = this.setup.curveGrid;
    if (!grid || history.some((h) => h.type === 'evaluation')) return {};
    if (!fitCurveDue(version, this.setup.plan.totalSteps, this.lastCurveStep)) return {};
    this.lastCurveStep = version;
    const { params } = await this.steps.pull(version);
    return { curve: fitCurve(grid, { spec: this.setup.spec, params, preprocessing: this.setup.preprocessing }) };
  }

  /** Evaluate a split at version `version` with shard jobs; parts are combined in shard order. */
  private async evaluate(split: SplitName, version: number): Promise<Evaluation | null> {
    const rows = this.setup.splits[split].length;
    if (rows === 0) return null;
    const { keys, redis, queue, waiter } = this.deps;
    const id = this.record.id;
    const evalId = `${split}-${version}`;
    const jobs = evaluateJobs(id, split, version, rows, this.config.evaluation.rowsPerShard);
    const jobIds = jobs.map((j) => j.opts.jobId);
    waiter.forget(jobIds);
    await queue.addBulk(jobs);
    const evalKeys = jobs.map((_, s) => keys.evaluation(id, evalId, s));
    await waiter.waitFor(evalKeys, jobIds, this.abort.signal);
    const parts = (await redis.mget(...evalKeys)).map((raw) => JSON.parse(raw ?? 'null') as EvalPart);
    await redis.del(...evalKeys);
    return combineParts(split, version, parts);
  }

  /**
   * The newest stored checkpoint (Redis or NNQ_DATA_DIR: run-blobs.ts) that the saved record has
   * reached (one written just before a coordinator died, its record unsaved, is passed over), and
   * that reads back whole; a damaged one is logged and the one before it is tried.
   */
  private async newestCheckpoint(): Promise<Checkpoint | null> {
    for (const stored of await this.deps.blobs.checkpoints(this.record.id)) {
      if (stored.step > this.record.step || stored.step <= 0) continue;
      try {
        return decodeCheckpoint(stored.bytes, stored.where);
      } catch (err) {
        this.logger.warn(`${(err as Error).message}; trying an older checkpoint`);
      }
    }
    return null;
  }

  private async checkpoint(step: number, { params, state, secondOrder }: StepState): Promise<void> {
    const bytes = encodeCheckpoint({
      runId: this.record.id,
      step,
      params,
      optimizer: secondOrder ? encodeSecondOrderCheckpoint(secondOrder) : serializeOptimizerState(state),
      skippedSteps: this.record.skippedSteps,
    });
    await this.deps.blobs.saveCheckpoint(this.record.id, step, bytes);
    this.record = { ...this.record, checkpointStep: step };
  }

  private async writeModel(params: Float32Array): Promise<void> {
    const bytes = writeModel({
      spec: this.config.model,
      params,
      preprocessing: this.setup.preprocessing,
      extra: { run: this.record.id, name: this.record.name, step: String(this.record.step) },
    });
    await this.deps.blobs.saveModel(this.record.id, bytes);
  }
}

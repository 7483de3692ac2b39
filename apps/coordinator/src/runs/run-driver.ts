// Past 400 lines because the central step (step, publish) still lives in the driver: issue #22 moves it
// beside sliced-step.ts behind one step interface, which leaves the loop here.
import { Logger } from '@nestjs/common';
import {
  writeModel,
  createOptimizerState,
  deserializeOptimizerState,
  serializeOptimizerState,
  type OptimizerState,
} from '@nnq/nn';
import { decodeShardResult, encodeFloat32 } from '@nnq/protocol';
import {
  allFinite,
  applyFiniteStep,
  combineParts,
  evaluatesAfter,
  initialParams,
  isPoisoned,
  MAX_SKIPPED_IN_A_ROW,
  nonFiniteReason,
  ShardSum,
  StepUndo,
  slicingApplies,
  type EvalPart,
  type Evaluation,
  type RunConfig,
  type RunSetup,
  type SplitName,
  type StepRecord,
} from '@nnq/training';
import { readCheckpoint, writeCheckpoint } from './checkpoint';
import { checkpointPath, modelPath, writeFileAtomic } from './run-files';
import type { StepPhase } from '../coordinator.metrics';
import type { HistoryEntry, RunRecord } from './run-record';
import { lapClock } from './lap-clock';
import { failRun, finishRun, storedFiniteParams, trailingSkips } from './run-end';
import { CancelledError } from './shard-waiter';
import { SlicedSteps } from './sliced-step';
import { evaluateJobs, gradientJobs } from './step-jobs';
import { promoteParked } from './parked-jobs';
import type { DriverDeps } from './driver-deps';

/** A run's record and history reach Redis at least this often while it trains (GET /runs/:id reads them). */
const PROGRESS_EVERY_MS = 200;

export class NonFiniteStepError extends Error {
  constructor(
    readonly step: number,
    cause: 'gradient' | 'parameters' | 'skips' = 'gradient',
  ) {
    super(`${nonFiniteReason(step, cause)}; the parameters of step ${step} are kept`);
    this.name = 'NonFiniteStepError';
  }
}

/**
 * Drives one run, step by synchronous step: dispatch one job per shard, wait for every shard's
 * result, sum in shard order, apply the optimizer, publish version v+1, delete what step t no
 * longer needs. Evaluations and checkpoints at their cadence. Stateless between steps except for
 * what a checkpoint holds, so a restarted coordinator resumes from its last checkpoint.
 */
export class RunDriver {
  private readonly logger: Logger;
  private readonly abort = new AbortController();
  private params!: Float32Array;
  /** Step whose gradient jobs are already queued (sent ahead with the previous step). */
  private dispatchedAhead = -1;
  /** Reused buffer of the step's gradient sum. */
  private gradSum?: Float32Array;
  private state!: OptimizerState;
  /**
   * The parameters and state before an update, to undo a non-finite one (`onNonFinite: "skip"`;
   * a run that fails writes the version published before, see lastFiniteParams).
   */
  private readonly undo: StepUndo | null;
  /** Steps skipped as non-finite in a row (MAX_SKIPPED_IN_A_ROW of them fail the run). */
  private skippedInARow = 0;
  /** Sliced reduction (sliced-step.ts) when the run config asks for it; otherwise undefined. */
  private readonly sliced?: SlicedSteps;
  /** History entries of steps done since the record was last saved, and when that was. */
  private unsaved: HistoryEntry[] = [];
  private savedAt = 0;

  constructor(
    private readonly deps: DriverDeps,
    private record: RunRecord,
    private readonly config: RunConfig,
    private readonly setup: RunSetup,
  ) {
    this.logger = new Logger(`Run ${record.id}`);
    this.undo = config.onNonFinite === 'skip' ? new StepUndo() : null;
    if (slicingApplies(config)) this.sliced = new SlicedSteps(deps, record.id, config, setup, this.logger);
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
          const params = await this.lastFiniteParams();
          if (params) this.writeModel(params);
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
      const outcome = this.sliced ? await this.slicedStep(this.sliced, t) : await this.step(t);
      this.skippedInARow = outcome.skipped ? this.skippedInARow + 1 : 0;
      if (this.skippedInARow >= MAX_SKIPPED_IN_A_ROW) throw new NonFiniteStepError(t, 'skips');
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
      if (evaluatesAfter(this.config, this.setup, t)) {
        const last = t === plan.totalSteps - 1;
        for (const split of ['validation', ...(last ? ['test'] : [])] as SplitName[]) {
          const ev = await this.evaluate(split, t + 1);
          if (ev) {
            history.push({ type: 'evaluation', ...ev });
            this.record = { ...this.record, [split]: ev };
            this.deps.metrics.evaluation(id, ev);
          }
        }
      }
      this.unsaved.push(...history);
      const checkpoints = this.config.checkpoint.every > 0 && (t + 1) % this.config.checkpoint.every === 0;
      if (checkpoints) {
        if (this.sliced) ({ params: this.params, state: this.state } = await this.sliced.pull(t + 1));
        this.checkpoint(t + 1);
      }
      // a checkpoint's or an evaluation's progress is saved at once (a resumed run keeps
      // history up to its checkpoint); other steps' at most every PROGRESS_EVERY_MS
      await this.saveProgress(checkpoints || history.length > 1);
    }
    if (this.sliced) ({ params: this.params, state: this.state } = await this.sliced.pull(plan.totalSteps));
    this.writeModel(this.params);
    this.record = { ...this.record, state: 'completed', finishedAt: new Date().toISOString(), etaSeconds: 0 };
  }

  /**
   * Parameters of the last step done, when finite: those in hand, else the version in Redis, which
   * is never non-finite (an update that overflowed, left in hand when the run fails, was not
   * published; sliced steps hold their parameters there, what this driver holds is from its last
   * checkpoint).
   */
  private async lastFiniteParams(): Promise<Float32Array | undefined> {
    const inHand = this.params && allFinite(this.params) ? this.params : undefined;
    if (inHand && !this.sliced) return inHand;
    return (await storedFiniteParams(this.deps, this.record.id, this.record.step, this.setup.paramCount)) ?? inHand;
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
    const ck = readCheckpoint(checkpointPath(this.deps.dataDir, this.record.id));
    if (ck && ck.step <= this.record.step && ck.step > 0) {
      this.params = ck.params;
      this.state = deserializeOptimizerState(ck.optimizer, {
        config: this.config.optimizer,
        size: this.setup.paramCount,
      });
      this.record = { ...this.record, step: ck.step, skippedSteps: ck.skippedSteps, checkpointStep: ck.step };
      await this.deps.store.truncateHistory(this.record.id, ck.step);
      this.skippedInARow = trailingSkips(await this.deps.store.history(this.record.id));
      this.logger.log(`resuming from the checkpoint of step ${ck.step}`);
    } else {
      this.params = initialParams(this.config);
      this.state = createOptimizerState(this.config.optimizer, this.setup.paramCount);
      this.record = { ...this.record, step: 0, skippedSteps: 0 };
      await this.deps.store.truncateHistory(this.record.id, 0);
    }
    const { redis, keys } = this.deps;
    await redis.set(keys.params(this.record.id, this.record.step), encodeFloat32(this.params));
    if (this.sliced) await this.sliced.init(this.state, this.record.step);
    // workers tell waiting, early (jobs left by the previous coordinator) and past jobs apart by it
    await redis.set(keys.paramsVersion(this.record.id), this.record.step);
  }

  /** A sliced step (sliced-step.ts): workers reduce, the coordinator orders. */
  private async slicedStep(sliced: SlicedSteps, t: number) {
    const { poisoned, ...outcome } = await sliced.step(t, this.abort.signal);
    if (poisoned) throw new NonFiniteStepError(t, poisoned);
    return outcome;
  }

  private async step(t: number): Promise<StepRecord> {
    const { keys, redis, queue, waiter, metrics } = this.deps;
    const id = this.record.id;
    const lap = lapClock();
    // `adjust` removes time already reported under another phase
    const phase = (p: StepPhase, adjust = 0) => metrics.phase(p, lap() + adjust);
    // 1. dispatch: one job per shard; the jobId makes a re-added job a no-op. Step t+1's jobs go
    // out now too, marked `ahead`: a worker that finishes early gathers their rows while this
    // step ends, then waits for parameters t+1 (the step order and the sums are unchanged).
    const ranges = this.setup.plan.shardsOf(t);
    const jobs = gradientJobs(this.record.id, this.setup.plan, t);
    const jobIds = jobs.map((j) => j.opts.jobId);
    const ahead = t + 1 < this.setup.plan.totalSteps ? gradientJobs(this.record.id, this.setup.plan, t + 1, true) : [];
    waiter.forget([...jobIds, ...ahead.map((j) => j.opts.jobId)]);
    await queue.addBulk(this.dispatchedAhead === t ? ahead : [...jobs, ...ahead]);
    this.dispatchedAhead = t + 1;
    phase('dispatch');
    // 2. wait until every shard's result key exists
    const gradKeys = ranges.map((r) => keys.gradient(id, t, r.shard));
    const sum = new ShardSum(ranges.length, this.gradSum ?? (this.gradSum = new Float32Array(this.setup.paramCount)));
    let bytes = 0;
    let summing = 0;
    let counted = 0n;
    await waiter.waitFor(
      gradKeys,
      jobIds,
      this.abort.signal,
      {
        afterMs: this.deps.stragglerMs,
        // a straggler's shard runs again elsewhere under another job id; the first result written counts
        onDeadline: async (missing, round) => {
          this.logger.warn(
            `step ${t}: shards ${missing.join(', ')} late after ${this.deps.stragglerMs * round} ms, queued again`,
          );
          metrics.stragglers(missing.length);
          await queue.addBulk(
            missing.map((s) => ({
              ...jobs[s],
              opts: { ...jobs[s].opts, jobId: `${jobs[s].opts.jobId}-r${round}`, priority: 1 },
            })),
          );
        },
      },
      // 3. sum in shard order, each shard as soon as it and all before it are in
      {
        read: async (s) => {
          const started = process.hrtime.bigint();
          const blob = await redis.getBuffer(gradKeys[s]);
          // reads run side by side: count the time since the later of this read's start and the last count
          const now = process.hrtime.bigint();
          if (blob) summing += Number(now - (started > counted ? started : counted)) / 1e9;
          if (blob) counted = now;
          return blob;
        },
        use: (_s, blob) => {
          bytes += blob.byteLength;
          sum.add(decodeShardResult(blob, this.setup.paramCount, this.config.gradientTransfer));
          const now = process.hrtime.bigint();
          summing += Number(now - counted) / 1e9;
          counted = now;
        },
      },
    );
    // the wait phase excludes the summing that overlapped it
    phase('wait', -summing);
    metrics.phase('sum', summing);
    const reduced = sum.result();
    metrics.bytes('gradient', bytes);
    const epoch = this.setup.plan.epochOf(t);
    // 4. optimizer; an update that makes a parameter non-finite is undone (applyFiniteStep)
    const poisoned = isPoisoned(reduced);
    const applied = poisoned
      ? undefined
      : applyFiniteStep(this.config, this.params, reduced, this.state, t, this.setup.mask, this.undo);
    if (!applied?.finite) {
      metrics.nonFinite();
      if (this.config.onNonFinite === 'fail') throw new NonFiniteStepError(t, poisoned ? 'gradient' : 'parameters');
      // skip: publish the same parameters as the next version
      await this.publish(t, gradKeys);
      return { step: t, epoch, loss: NaN, accuracy: NaN, lr: 0, gradNorm: reduced.gradNorm, skipped: true };
    }
    const { lr } = applied;
    phase('optimizer');
    // 5. publish version t+1, delete what step t no longer needs
    metrics.bytes('parameters', await this.publish(t, gradKeys));
    phase('publish');
    const loss = reduced.loss / reduced.rows;
    const accuracy = reduced.correct / reduced.rows;
    metrics.step(id, reduced.rows, loss, accuracy, lr, reduced.gradNorm, t + 1);
    return { step: t, epoch, loss, accuracy, lr, gradNorm: reduced.gradNorm };
  }

  /**
   * Publish this.params as version t+1 in one MULTI: the parameters, the run's version, deletion
   * of what step t no longer needs, the notice workers queued ahead wait for, and the jobs parked
   * waiting for t+1, which go back to the queue before step t+2's are queued (parked-jobs.ts).
   * Returns the bytes.
   */
  private async publish(t: number, gradKeys: string[]): Promise<number> {
    const { keys, redis } = this.deps;
    const id = this.record.id;
    const blob = encodeFloat32(this.params);
    const parked = keys.parked(id, t + 1);
    const replies = await redis
      .multi()
      .set(keys.params(id, t + 1), blob)
      .set(keys.paramsVersion(id), t + 1)
      .del(...gradKeys, keys.params(id, t))
      .publish(keys.paramsChannel(), `${id}:${t + 1}`)
      .smembers(parked)
      .del(parked)
      .exec();
    await promoteParked(this.deps.queue, replies?.[4]?.[1]);
    return blob.byteLength;
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

  private checkpoint(step: number): void {
    writeCheckpoint(checkpointPath(this.deps.dataDir, this.record.id), {
      runId: this.record.id,
      step,
      params: this.params,
      optimizer: serializeOptimizerState(this.state),
      skippedSteps: this.record.skippedSteps,
    });
    this.record = { ...this.record, checkpointStep: step };
  }

  private writeModel(params: Float32Array): void {
    const bytes = writeModel({
      spec: this.config.model,
      params,
      preprocessing: this.setup.preprocessing,
      extra: { run: this.record.id, name: this.record.name, step: String(this.record.step) },
    });
    writeFileAtomic(modelPath(this.deps.dataDir, this.record.id), bytes);
  }
}

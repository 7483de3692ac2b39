import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { KEYS, lockSettings, NNQ_CONFIG, REDIS, type NnqConfig } from '@nnq/cluster';
import { checkPlan, claimEngine, engineMismatch, FramedValue, setResult, SliceReducer } from '@nnq/exchange';
import {
  encodeShardResult,
  formatJobIssues,
  shardResultBytes,
  PASS_JOB_KINDS,
  PassJobSchema,
  SHARD_QUEUE,
  ShardJobSchema,
  type EvaluateJob,
  type GradientJob,
  type KeySchema,
  type ShardJob,
} from '@nnq/protocol';
import { rowsOf } from '@nnq/training';
import { DelayedError, UnrecoverableError, type Job, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { ComputePool } from '../compute/compute-pool';
import {
  MissingStateError,
  ParamsNotReadyError,
  paramsValues,
  RunContextService,
  StepPastError,
  type ParamsSlot,
  type RunContext,
  type RunLook,
} from './run-context.service';
import { WorkerMetrics } from '../worker.metrics';
import { PrefetchPolicy } from './prefetch';
import { checkMemory } from './memory-check';
import { park } from './park';
import { engineTag } from './engine-tag';
import { liveWorkerComputes } from './engine-peers';
import { SecondOrderPasses } from './second-order-passes';

/** Results of shards outlive their step only this long (a late duplicate cannot leak forever). */
const RESULT_TTL_MS = 6 * 60 * 60 * 1000;
/**
 * How long a job queued a step ahead waits for its parameters before going back to the queue.
 * Short: while it waits it holds a job slot, and a job of the step before that was put back in
 * the queue (retried, or delayed across a coordinator restart) may need that slot to finish it,
 * as may another run's job. (Waiting two step intervals instead halved the give-ups on slow steps
 * but, in one run each here, took a 2-worker pool training XOR and spirals at once from 102 s
 * to over 170 s.)
 */
const AHEAD_WAIT_MS = 250;

/**
 * A job computed by another engine than its run's goes back to the delayed set for this long, up to
 * MAX_ENGINE_REFUSALS times; past that it fails for good (and with it the run) once no live worker
 * computes with the run's engine, or past MAX_ENGINE_REFUSALS_WITH_PEER even with one (a worker of
 * the run's engine that is busy, e.g. holding a job queued ahead, lets the other win the job often).
 */
const ENGINE_REFUSED_DELAY_MS = 500;
const MAX_ENGINE_REFUSALS = 20;
const MAX_ENGINE_REFUSALS_WITH_PEER = 600;

/** A shard computed by another engine than its run's (engine-claim.ts): not written. */
class EngineRefusedError extends Error {}

/**
 * Computes shard jobs: the summed gradient of a training shard, or the loss and correct count of
 * an evaluation shard. Results are written once (SET NX): a retried or duplicated job finds the
 * key and changes nothing.
 */
// Locks: a job's lock lasts NNQ_LOCK_DURATION_MS (30 s) and is renewed every half of it by the
// event loop, which stays free because compute runs in threads; a worker that dies loses its
// jobs to the stalled check and another worker runs them again. See docs/faults.md.
@Processor(SHARD_QUEUE, lockSettings())
export class ShardProcessor extends WorkerHost implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ShardProcessor.name);
  readonly pool: ComputePool;
  private readonly reducer: SliceReducer;
  /** Buffers of results whose write has finished, for the next shards' results (framed-value.ts). */
  private readonly spareFrames: FramedValue[] = [];
  /** Each recent run's engine (engine-claim.ts), once this worker has claimed or read it. */
  private readonly runEngines = new Map<string, string>();
  /** Pass jobs of second-order runs (second-order-passes.ts). */
  private readonly passes: SecondOrderPasses;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(KEYS) private readonly keys: KeySchema,
    @Inject(NNQ_CONFIG) private readonly config: NnqConfig,
    private readonly runs: RunContextService,
    private readonly metrics: WorkerMetrics,
    private readonly prefetch: PrefetchPolicy,
    @InjectQueue(SHARD_QUEUE) queue: Queue,
  ) {
    super();
    this.pool = new ComputePool(config.NNQ_WORKER_CONCURRENCY);
    // reduce jobs queue the next step's shards on the same queue
    this.reducer = new SliceReducer(redis, keys, (jobs) => queue.addBulk(jobs));
    this.runs.onParamsFetched = (bytes, seconds) => this.metrics.paramsFetched(bytes, seconds);
    this.passes = new SecondOrderPasses(redis, keys, this.pool, runs, {
      write: (runId, key, v) => this.writeResult(runId, key, v),
      // a run computes with one engine (engine-claim.ts), its pass-gradient shards too
      claim: async (runId, id, engine) => {
        const runEngine = await this.runEngine(runId, engine);
        if (runEngine !== engine) await this.refuseId(runId, id, engine, runEngine);
      },
    });
    const holdMs = config.NNQ_CHAOS_REPLICA_HOLD_MS;
    if (holdMs > 0)
      // fault injection (chaos tests): each replica update waits, applied but unfinished, and says so
      this.runs.replicas.hold = async (runId, t) => {
        this.logger.log(`chaos: holding run ${runId} step ${t}'s replica update for ${holdMs} ms`);
        await new Promise((r) => setTimeout(r, holdMs));
        this.logger.log(`chaos: released run ${runId} step ${t}'s replica update`);
      };
    // job slots: one per compute thread, plus one for prefetching when it pays (prefetch.ts)
    prefetch.onChange = (slots) => (this.worker.concurrency = slots);
  }

  onModuleInit(): void {
    this.worker.concurrency = this.config.NNQ_WORKER_CONCURRENCY;
  }

  async onApplicationShutdown(): Promise<void> {
    // let the jobs in hand finish (a graceful leave ends its shards) before the threads go; BullMQ
    // returns the same promise to the module's own close
    try {
      await this.worker.close();
    } finally {
      await Promise.all([this.pool.close(), this.reducer.close()]);
    }
  }

  async process(job: Job, token?: string): Promise<{ written: boolean }> {
    try {
      return await this.processShard(job);
    } catch (err) {
      // a step already over: done, and gone from the queue (a resumed coordinator may add it again)
      if (err instanceof StepPastError) return { written: false };
      // a job of a run that ended while it waited or computed: done, without retry
      if (err instanceof MissingStateError) return this.runGone((job.data as { runId: string }).runId, err.message);
      // computed by another engine than its run's: back to the queue for a while, no attempt used,
      // for a worker with the run's engine (this one is idle at once and would take it again)
      if (err instanceof EngineRefusedError) {
        await job.moveToDelayed(Date.now() + ENGINE_REFUSED_DELAY_MS, token);
        throw new DelayedError(err.message);
      }
      if (!(err instanceof ParamsNotReadyError)) throw err;
      // not a failure: the step before is still running; free this slot for other work, and be
      // back in the queue as soon as the step begins (park.ts)
      await park(this.redis, this.keys, job, token, err);
      throw new DelayedError(err.message);
    }
  }

  private async processShard(job: Job): Promise<{ written: boolean }> {
    if (PASS_JOB_KINDS.includes((job.data as { kind?: string } | null)?.kind ?? '')) return this.passJob(job);
    // pipes never run on queue jobs: parse job.data with the schema
    const parsed = ShardJobSchema.safeParse(job.data);
    if (!parsed.success) {
      throw new UnrecoverableError(
        `job ${job.id}: invalid payload: ${formatJobIssues(parsed.error.issues).join('; ')}`,
      );
    }
    const data = parsed.data;
    if (data.kind === 'gradient') this.prefetch.sawStep(data.shards);
    // the run's manifest first, whatever the kind and however far ahead the job was queued: a job
    // of a run that ended (cancelled, failed, deleted) stops at its next pickup. The same round
    // trip asks whether the shard's result exists (a duplicate of a finished shard has nothing to do)
    // and, for a replicated run's parameters not in hand yet, the run's version (a RunLook)
    const looking = data.kind === 'gradient' && this.runs.lookWanted(data.runId, data.version);
    const since = this.runs.mark();
    const [live, done, published] = await this.liveAndDone(data.runId, this.resultKey(data), looking);
    if (!live) return this.runGone(data.runId);
    if (done) return { written: false };
    // sliced reduction (@nnq/exchange SliceReducer): reads the run's config, not its shard context
    if (data.kind === 'reduce') return this.reducer.reduce(data, job.id);
    const ctx = await this.runs.context(data.runId);
    // a gradient or evaluation job must be the one its run's plan has for its id (@nnq/exchange plan-check.ts)
    checkPlan(job.id, data, ctx.manifest);
    // ...and fit this worker's memory budget (memory-check.ts), checked before anything is allocated
    checkMemory(data, ctx.manifest, this.config.NNQ_WORKER_MEMORY_MB);
    const look = looking ? { since, published, live } : undefined;
    return data.kind === 'gradient' ? this.gradient(ctx, data, look) : this.evaluate(ctx, data);
  }

  /** A second-order run's pass job: parsed, checked against its run like a shard, computed once. */
  private async passJob(job: Job): Promise<{ written: boolean }> {
    const parsed = PassJobSchema.safeParse(job.data);
    if (!parsed.success) {
      throw new UnrecoverableError(
        `job ${job.id}: invalid payload: ${formatJobIssues(parsed.error.issues).join('; ')}`,
      );
    }
    const d = parsed.data;
    const [live, done] = await this.liveAndDone(d.runId, this.keys.soResult(d.runId, d.step, d.pass, d.shard));
    if (!live) return this.runGone(d.runId);
    if (done) return { written: false };
    if (this.config.NNQ_CHAOS_SHARD_DELAY_MS > 0)
      await new Promise((r) => setTimeout(r, this.config.NNQ_CHAOS_SHARD_DELAY_MS));
    return this.passes.run(d);
  }

  /** Where a gradient or evaluation job's result goes (reduce jobs check their marker in the SliceReducer). */
  private resultKey(data: ShardJob): string | undefined {
    if (data.kind === 'gradient') return this.keys.gradient(data.runId, data.step, data.shard);
    if (data.kind === 'evaluate') return this.keys.evaluation(data.runId, data.evalId, data.shard);
    return undefined;
  }

  /**
   * Whether the run's manifest exists, given a result key whether that does, and asked, the run's
   * published version (one round trip).
   */
  private async liveAndDone(
    runId: string,
    result?: string,
    version = false,
  ): Promise<[boolean, boolean, string | null]> {
    const pipe = this.redis.pipeline().exists(this.keys.runManifest(runId));
    if (result) pipe.exists(result);
    if (version) pipe.get(this.keys.paramsVersion(runId));
    const replies = (await pipe.exec()) ?? [];
    for (const [err] of replies) if (err) throw err;
    const published = version ? (replies[result ? 2 : 1]?.[1] as string | null | undefined) : null;
    return [replies[0]?.[1] === 1, !!result && replies[1]?.[1] === 1, published ?? null];
  }

  /**
   * A job whose run has no manifest (any more). A run with a record ended (cancelled, failed,
   * completed, or mid-deletion): the job completes without a result and leaves the queue, never
   * retried. No record: not a job of any coordinator (forged, or of a deleted run); it fails for
   * good with `reason`.
   */
  private async runGone(
    runId: string,
    reason = `run ${runId} has no manifest in Redis (finished, cancelled or unknown)`,
  ): Promise<{ written: boolean }> {
    const [live, known] = await Promise.all([
      this.redis.exists(this.keys.runManifest(runId)),
      this.redis.exists(this.keys.runState(runId)),
    ]);
    if (live) throw new UnrecoverableError(reason); // the manifest is there: some other state is missing
    if (!known) throw new UnrecoverableError(reason);
    this.logger.debug(`run ${runId} is over: its job completes without a result`);
    return { written: false };
  }

  private async gradient(ctx: RunContext, job: GradientJob, look?: RunLook): Promise<{ written: boolean }> {
    const key = this.keys.gradient(job.runId, job.step, job.shard);
    const m = ctx.manifest;
    if (job.end > ctx.splits.train.length || job.shards !== m.shards) {
      throw new UnrecoverableError(
        `job ${job.runId}-${job.step}-${job.shard}: range or shard count does not fit run ${job.runId}`,
      );
    }
    // a run computes with one engine (engine-claim.ts): a worker known to have another refuses at once
    const known = this.runEngines.get(job.runId);
    const mine = engineTag(this.pool.engine);
    if (known && known !== mine) return this.refuse(job, mine, known);
    const started = process.hrtime.bigint();
    if (this.config.NNQ_CHAOS_SHARD_DELAY_MS > 0)
      await new Promise((r) => setTimeout(r, this.config.NNQ_CHAOS_SHARD_DELAY_MS));
    const rows = rowsOf(ctx.splits.train, ctx.perms.get(job.epoch), job.start, job.end);
    // a job queued a step ahead gathers its rows while the previous step finishes
    const r = await this.compute(ctx, job.version, rows, job.ahead ? AHEAD_WAIT_MS : 0, look);
    // a run computes with one engine: a shard of another is refused before it is written
    const engine = engineTag(r.engine);
    const runEngine = await this.runEngine(job.runId, engine).catch((err: unknown) => {
      this.pool.recycle(r.buffers);
      throw err;
    });
    if (runEngine !== engine) {
      this.pool.recycle(r.buffers);
      return this.refuse(job, engine, runEngine);
    }
    // a spare of another size (another run's) is dropped and a new buffer encoded into
    const result = { grad: r.grad, loss: r.loss, correct: r.correct, rows: rows.length, engine };
    const framed = this.spareFrame(shardResultBytes(result, m.gradientTransfer));
    const blob = encodeShardResult(result, m.gradientTransfer, framed.value);
    this.pool.recycle(r.buffers);
    // a replicated run's replicas waiting for this step's gradients to make the next parameters wake
    // on this notice, not at the coordinator's version (run-context.service.ts)
    const notice = ctx.replicated
      ? { channel: this.keys.paramsChannel(), message: `${job.runId}:${job.step + 1}` }
      : undefined;
    const writing = this.writeResult(job.runId, key, framed, notice);
    // once written and answered the client holds no reference any more (a failed write drops the buffer)
    const spare = () => {
      this.spareFrames.push(framed);
      if (this.spareFrames.length > this.config.NNQ_WORKER_CONCURRENCY + 1) this.spareFrames.shift();
    };
    // (a failed write drops it)
    const spareOnceWritten = () => void writing.then(spare).catch(() => undefined);
    // A replicated run's replica holds these bytes for the step's update (no read back) from now, while
    // they are written: a copy already in Redis, or one written later, holds the same bytes (one engine,
    // deterministic). It gives the buffer back once applied; it is reused only once written too
    const kept = ctx.replicated && this.runs.keepOwn(job.runId, job.step, job.shard, blob, spareOnceWritten);
    const set = await writing;
    if (!kept) spare();
    this.metrics.shardDone('gradient', Number(process.hrtime.bigint() - started) / 1e9, blob.byteLength, rows.length);
    return { written: set === 1 };
  }

  private async evaluate(ctx: RunContext, job: EvaluateJob): Promise<{ written: boolean }> {
    const key = this.keys.evaluation(job.runId, job.evalId, job.shard);
    const idx = ctx.splits[job.split];
    if (job.end > idx.length)
      throw new UnrecoverableError(`evaluation range [${job.start}, ${job.end}) exceeds the ${job.split} split`);
    const started = process.hrtime.bigint();
    const rows = idx.subarray(job.start, job.end);
    const r = await this.compute(ctx, job.version, rows);
    this.pool.recycle(r.buffers);
    const part = JSON.stringify({ loss: r.loss, correct: r.correct, rows: rows.length });
    const set = await this.writeResult(job.runId, key, part);
    this.metrics.shardDone('evaluate', Number(process.hrtime.bigint() - started) / 1e9, 0, rows.length);
    return { written: set === 1 };
  }

  /**
   * Refuse a shard of another engine than its run's: counted per job; back to the delayed set
   * (process() catches EngineRefusedError), or failed for good past MAX_ENGINE_REFUSALS.
   */
  private refuse(job: GradientJob, engine: string, runEngine: string): Promise<never> {
    return this.refuseId(job.runId, `${job.runId}-${job.step}-${job.shard}`, engine, runEngine);
  }

  /** refuse() for the job `id` of run `runId` (a second-order run's pass-gradient job too). */
  private async refuseId(runId: string, id: string, engine: string, runEngine: string): Promise<never> {
    const refusals = await this.redis.hincrby(this.keys.engineRefusals(runId), id, 1);
    const why = engineMismatch(id, runId, engine, runEngine);
    const final =
      refusals > MAX_ENGINE_REFUSALS &&
      (refusals > MAX_ENGINE_REFUSALS_WITH_PEER || !(await liveWorkerComputes(this.redis, this.keys, runEngine)));
    if (final) throw new UnrecoverableError(`${why}; refused ${refusals - 1} times`);
    throw new EngineRefusedError(why);
  }

  /** The run's engine: claimed with the first shard (SET NX, engine-claim.ts), then remembered here. */
  private async runEngine(runId: string, engine: string): Promise<string> {
    const known = this.runEngines.get(runId);
    if (known) return known;
    const claimed = await claimEngine(this.redis, this.keys.runEngine(runId), engine);
    this.runEngines.set(runId, claimed);
    if (this.runEngines.size > 64) this.runEngines.delete(this.runEngines.keys().next().value!);
    return claimed;
  }

  /** Write a shard's result once, while its run is live, and announce it (@nnq/exchange set-result.ts). */
  private writeResult(
    runId: string,
    key: string,
    value: Buffer | string | FramedValue,
    also?: { channel: string; message: string },
  ): Promise<number> {
    const manifest = this.keys.runManifest(runId);
    return setResult(this.redis, key, manifest, value, RESULT_TTL_MS, this.keys.resultsChannel(), also);
  }

  /**
   * Gather `rows` into reused buffers, get parameters `version` (waiting up to `waitMs` for them),
   * and differentiate on a compute thread.
   */
  private async compute(ctx: RunContext, version: number, rows: ArrayLike<number>, waitMs = 0, look?: RunLook) {
    const m = ctx.manifest;
    const b = this.pool.buffers(m.spec, rows.length, m.paramCount);
    try {
      // the parameters are read (or waited for) while the rows are gathered
      const reading = this.paramsOrFail(ctx, version, waitMs, look);
      reading.catch(() => undefined); // awaited below; a gather failure must not leave it unhandled
      await this.runs.datasets.gatherBatch(m.datasetId, rows, m.preprocessing, b.x, b.y);
      const params = paramsValues(await reading, version, m.runId); // copied by lossAndGrad before it awaits
      return await this.pool.lossAndGrad(m.runId, m.spec, params, `${m.runId}:${version}`, b, rows.length);
    } catch (err) {
      this.pool.recycle(b);
      throw err;
    }
  }

  /** A spare result buffer of `bytes` bytes, or a new one (a spare of another size, another run's, is dropped). */
  private spareFrame(bytes: number): FramedValue {
    const spare = this.spareFrames.pop();
    return spare?.value.byteLength === bytes ? spare : new FramedValue(bytes);
  }

  /** Parameters `version`; a MissingStateError goes up to process(), which ends the job for good. */
  private paramsOrFail(ctx: RunContext, version: number, waitMs: number, look?: RunLook): Promise<ParamsSlot> {
    return this.runs.params(ctx, version, waitMs, look);
  }
}

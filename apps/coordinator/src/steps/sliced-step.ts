import type { Logger } from '@nestjs/common';
import { createOptimizerState } from '@nnq/nn';
import { decodeFloat32, gradientJobId, parseSliceMarker, type SliceMarker } from '@nnq/protocol';
import {
  allFinite,
  decodeSliceState,
  encodeSliceState,
  NonFiniteError,
  sliceRanges,
  type RunConfig,
  type RunSetup,
  type SliceRange,
} from '@nnq/training';
import type { DriverDeps } from '../runs/driver-deps';
import { promoteParked } from '../runs/parked-jobs';
import { storedFiniteParams } from '../runs/run-end';
import { reduceStep, stepJobs } from '../runs/step-jobs';
import { PhaseTimer } from './phase-timer';
import { publishSlices } from './publish-slices';
import type { StepOutcome, StepState, StepStrategy } from './step-strategy';
import { stragglerDeadline } from './stragglers';

/**
 * The coordinator's side of a sliced step (docs/deploy.md "Redis traffic per step"): it orders
 * the step and moves no tensors. Wait for the shard keys (EXISTS), dispatch one reduce job per
 * slice, wait for the slice markers; workers have then written parameters t+1 (staged, renamed here
 * into place), the slices' optimizer state t+1, the step's totals, and queued step t+1's shard
 * jobs. State lives in Redis, versioned by step, so a retried reduce job is a no-op; checkpoints
 * pull it (2P floats at their cadence only).
 */
export class SlicedStep implements StepStrategy {
  readonly ranges: SliceRange[];
  /** Parameters of the start or of the last pull (a failed run's model when Redis has none finite). */
  private pulled?: Float32Array;
  /** Step whose shard jobs the reduce jobs of the step before queue (-1: none). */
  private queued = -1;
  /** Deleting the previous step's keys: sent after the next dispatch, awaited at the step's end. */
  private cleanup?: () => Promise<unknown>;

  constructor(
    private readonly deps: DriverDeps,
    private readonly runId: string,
    private readonly config: RunConfig,
    private readonly setup: RunSetup,
    private readonly logger: Logger,
  ) {
    this.ranges = sliceRanges(setup.paramCount, config.reduce.slices);
  }

  /** Write the optimizer state of every slice as the state before step `step` (start or resume). */
  async init({ params, state }: StepState, step: number): Promise<void> {
    this.pulled = params;
    const { redis, keys } = this.deps;
    const multi = redis.multi();
    for (const r of this.ranges) {
      multi.set(
        keys.optState(this.runId, r.slice, step),
        encodeSliceState(state, this.config.optimizer, r.start, r.end),
      );
    }
    await multi.exec();
  }

  /** Parameters and optimizer state before step `step`, assembled from Redis (checkpoints, the model). */
  async pull(step: number): Promise<StepState> {
    const { redis, keys } = this.deps;
    const blob = await redis.getBuffer(keys.params(this.runId, step));
    if (!blob) throw new Error(`parameters of version ${step} are missing`);
    const params = decodeFloat32(blob, this.setup.paramCount);
    const state = createOptimizerState(this.config.optimizer, this.setup.paramCount);
    for (const r of this.ranges) {
      const bytes = await redis.getBuffer(keys.optState(this.runId, r.slice, step));
      if (!bytes) throw new Error(`optimizer state of slice ${r.slice} before step ${step} is missing`);
      decodeSliceState(bytes, this.config.optimizer, r.end - r.start, { state, offset: r.start });
    }
    this.pulled = params;
    return { params, state };
  }

  /** The version in Redis (never non-finite), else those of the start or the last checkpoint. */
  async lastFiniteParams(step: number): Promise<Float32Array | undefined> {
    const stored = await storedFiniteParams(this.deps, this.runId, step, this.setup.paramCount);
    return stored ?? (this.pulled && allFinite(this.pulled) ? this.pulled : undefined);
  }

  async step(t: number, signal: AbortSignal): Promise<StepOutcome> {
    const { keys, redis, queue, waiter, metrics } = this.deps;
    const id = this.runId;
    const plan = this.setup.plan;
    // phases as in the unsliced step: the coordinator's own work is dispatch (reduce jobs, and the
    // shard jobs when no reduce job queued them) and publish (markers, rename, version); wait is
    // both waits for workers; sum and optimizer run on workers
    const timer = new PhaseTimer(metrics);
    // 1. one gradient job per shard: queued ahead by the reduce jobs of step t-1, or here (the
    // run's first step, or a resumed one)
    const { ranges: shards, jobs, jobIds } = stepJobs(id, plan, t);
    if (this.queued !== t) {
      waiter.forget(jobIds);
      await queue.addBulk(jobs);
    }
    // the previous step's keys go while workers compute: Redis frees large strings synchronously
    // (about 15 ms for 64 blobs of 4 MB), which need not hold up the step
    const cleaned = this.cleanup?.();
    cleaned?.catch(() => undefined); // awaited below; this only keeps an early exit from leaving it unhandled
    this.cleanup = undefined;
    timer.lap('dispatch');
    // 2. wait for the shard keys (existence only: the blobs stay in Redis)
    const gradKeys = shards.map((r) => keys.gradient(id, t, r.shard));
    await waiter.waitFor(gradKeys, jobIds, signal, stragglerDeadline(this.deps, this.logger, t, jobs));
    timer.lap('wait');
    // 3. one reduce job per slice (rows come from the plan); workers write parameters t+1 (staged)
    // and the slices' state t+1; the last slice totals the trailers; each job then queues its share
    // of step t+1's shards, so this dispatch is the same size at any shard count
    const { jobs: reduceJobs, rows, lr, next } = reduceStep(id, this.config, plan, this.ranges, t);
    const K = this.ranges.length;
    const reduceIds = reduceJobs.map((j) => j.opts.jobId);
    waiter.forget([...reduceIds, ...next.map((r) => gradientJobId(id, t + 1, r.shard))]);
    await queue.addBulk(reduceJobs);
    this.queued = next.length ? t + 1 : -1;
    const markers = this.ranges.map((r) => keys.reduced(id, t, r.slice));
    timer.lap('dispatch');
    await waiter.waitFor(markers, reduceIds, signal);
    timer.lap('wait');
    // 4. parameters t+1 appear whole, with the version workers tell waiting, early and past jobs
    // apart by and the notice that wakes the jobs queued ahead, in one script that reads the
    // markers and takes the ids of jobs parked waiting for t+1: unless the step is poisoned
    const states = (v: number) => this.ranges.map((r) => keys.optState(id, r.slice, v));
    const staged = { staging: keys.paramsStaging(id, t + 1), params: keys.params(id, t + 1) };
    const parked = keys.parked(id, t + 1);
    const out = await publishSlices(
      redis,
      { ...staged, version: keys.paramsVersion(id), parked, markers },
      t + 1,
      keys.paramsChannel(),
      `${id}:${t + 1}`,
    );
    // 5. the norm from the slices' sums of squares (slice order), the totals from the last slice;
    // NaN or Infinity when poisoned
    const read = out.markers.map((v, k) => parseSliceMarker(v, `step ${t} slice ${k}`));
    const totals = read[K - 1].totals;
    if (!totals) throw new Error(`the last slice of step ${t} holds no totals`);
    if (totals.rows !== rows) throw new Error(`the shards of step ${t} counted ${totals.rows} rows, the plan ${rows}`);
    const { loss, correct } = totals;
    const gradNorm = Math.sqrt(read.reduce((acc, m) => acc + m.sq, 0)) / rows;
    const epoch = plan.epochOf(t);
    const skipped = !out.published;
    let taken: unknown = out.parked;
    if (skipped) {
      metrics.nonFinite();
      // fail: parameters t are still in Redis
      if (this.config.onNonFinite === 'fail')
        throw new NonFiniteError(t, poisonCause(read, loss), { paramsKept: true });
      // skip: version t+1 and the state after step t are copies of those before it
      const copy = redis.multi().copy(keys.params(id, t), keys.params(id, t + 1), 'REPLACE');
      states(t).forEach((k, i) => copy.copy(k, states(t + 1)[i], 'REPLACE'));
      const replies = await copy
        .del(keys.paramsStaging(id, t + 1))
        .set(keys.paramsVersion(id), t + 1)
        .publish(keys.paramsChannel(), `${id}:${t + 1}`)
        .smembers(parked)
        .del(parked)
        .exec();
      for (const [err] of replies ?? []) if (err) throw new Error(`skipping step ${t}: ${err.message}`);
      taken = replies?.at(-2)?.[1];
    }
    // 6. delete what step t no longer needs, in one MULTI (a late duplicate reduce then finds no
    // state), after the next step's dispatch; the run's end deletes whatever is left
    this.cleanup = () =>
      redis
        .multi()
        .unlink(...gradKeys, keys.params(id, t), ...states(t), ...markers)
        .exec();
    // jobs parked waiting for parameters t+1 go back to the queue now (parked-jobs.ts)
    await cleaned;
    await promoteParked(queue, taken);
    timer.lap('publish');
    timer.report();
    if (skipped) return { step: t, epoch, loss: NaN, accuracy: NaN, lr: 0, gradNorm, skipped };
    metrics.step(id, rows, loss / rows, correct / rows, lr, gradNorm, t + 1);
    return { step: t, epoch, loss: loss / rows, accuracy: correct / rows, lr, gradNorm };
  }
}

/**
 * What poisoned a sliced step: the update alone (a reducer marks a slice whose new parameters are
 * not all finite with a sum of squares of -Infinity, libs/exchange slice-reducer.ts) when every other number of the
 * step is finite, else the loss or gradient.
 */
function poisonCause(markers: SliceMarker[], loss: number): 'gradient' | 'parameters' {
  const update = markers.some((m) => m.sq === -Infinity);
  const gradient = !Number.isFinite(loss) || markers.some((m) => m.sq !== -Infinity && !Number.isFinite(m.sq));
  return update && !gradient ? 'parameters' : 'gradient';
}

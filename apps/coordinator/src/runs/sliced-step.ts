import { Logger } from '@nestjs/common';
import { createOptimizerState, type OptimizerState } from '@nnq/nn';
import { decodeFloat32, gradientJobId, parseSliceMarker, type SliceMarker } from '@nnq/protocol';
import {
  decodeSliceState,
  encodeSliceState,
  sliceRanges,
  type RunConfig,
  type RunSetup,
  type SliceRange,
  type StepRecord,
} from '@nnq/training';
import type { DriverDeps } from './driver-deps';
import { lapClock } from './lap-clock';
import { publishSlices } from './publish-slices';
import { gradientJobs, reduceStep } from './step-jobs';
import { promoteParked } from './parked-jobs';

export interface SlicedOutcome extends StepRecord {
  /**
   * Non-finite loss or gradient, or an update that made a parameter non-finite (a reducer's marker
   * then holds -Infinity), and onNonFinite 'fail': parameters t are still in Redis.
   */
  poisoned?: 'gradient' | 'parameters';
}

/**
 * The coordinator's side of a sliced step (docs/deploy.md "Redis traffic per step"): it orders
 * the step and moves no tensors. Wait for the shard keys (EXISTS), dispatch one reduce job per
 * slice, wait for the slice markers; workers have then written parameters t+1 (staged, renamed here
 * into place), the slices' optimizer state t+1, the step's totals, and queued step t+1's shard
 * jobs. State lives in Redis, versioned by step, so a retried reduce job is a no-op; checkpoints
 * pull it (2P floats at their cadence only).
 */
export class SlicedSteps {
  readonly ranges: SliceRange[];
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
  async init(state: OptimizerState, step: number): Promise<void> {
    const multi = this.deps.redis.multi();
    for (const r of this.ranges) {
      multi.set(this.deps.keys.optState(this.runId, r.slice, step), encodeSliceState(state, this.config.optimizer, r.start, r.end)); // prettier-ignore
    }
    await multi.exec();
  }

  /** Parameters and optimizer state before step `step`, assembled from Redis (checkpoints, the model). */
  async pull(step: number): Promise<{ params: Float32Array; state: OptimizerState }> {
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
    return { params, state };
  }

  /** Parameters of version `version` only (the last good model of a failed run). */
  async params(version: number): Promise<Float32Array | undefined> {
    const blob = await this.deps.redis.getBuffer(this.deps.keys.params(this.runId, version));
    return blob ? decodeFloat32(blob, this.setup.paramCount) : undefined;
  }

  async step(t: number, signal: AbortSignal): Promise<SlicedOutcome> {
    const { keys, redis, queue, waiter, metrics } = this.deps;
    const id = this.runId;
    const plan = this.setup.plan;
    // phases as in the unsliced step: the coordinator's own work is dispatch (reduce jobs, and the
    // shard jobs when no reduce job queued them) and publish (markers, rename, version); wait is
    // both waits for workers; sum and optimizer run on workers
    const spent = { dispatch: 0, wait: 0, publish: 0 };
    const lap = lapClock();
    const phase = (p: keyof typeof spent) => (spent[p] += lap());
    // 1. one gradient job per shard: queued ahead by the reduce jobs of step t-1, or here (the
    // run's first step, or a resumed one)
    const shards = plan.shardsOf(t);
    const jobs = gradientJobs(id, plan, t);
    const jobIds = jobs.map((j) => j.opts.jobId);
    if (this.queued !== t) {
      waiter.forget(jobIds);
      await queue.addBulk(jobs);
    }
    // the previous step's keys go while workers compute: Redis frees large strings synchronously
    // (about 15 ms for 64 blobs of 4 MB), which need not hold up the step
    const cleaned = this.cleanup?.();
    cleaned?.catch(() => undefined); // awaited below; this only keeps an early exit from leaving it unhandled
    this.cleanup = undefined;
    phase('dispatch');
    // 2. wait for the shard keys (existence only: the blobs stay in Redis)
    const gradKeys = shards.map((r) => keys.gradient(id, t, r.shard));
    await waiter.waitFor(gradKeys, jobIds, signal, {
      afterMs: this.deps.stragglerMs,
      onDeadline: async (missing, round) => {
        this.logger.warn(`step ${t}: shards ${missing.join(', ')} late, queued again`);
        metrics.stragglers(missing.length);
        await queue.addBulk(missing.map((s) => ({ ...jobs[s], opts: { ...jobs[s].opts, jobId: `${jobs[s].opts.jobId}-r${round}`, priority: 1 } }))); // prettier-ignore
      },
    });
    phase('wait');
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
    phase('dispatch');
    await waiter.waitFor(markers, reduceIds, signal);
    phase('wait');
    // 4. parameters t+1 appear whole, with the version workers tell waiting, early and past jobs
    // apart by and the notice that wakes the jobs queued ahead, in one script that reads the
    // markers: unless the step is poisoned
    const states = (v: number) => this.ranges.map((r) => keys.optState(id, r.slice, v));
    const out = await publishSlices(
      redis,
      { staging: keys.paramsStaging(id, t + 1), params: keys.params(id, t + 1), version: keys.paramsVersion(id), markers }, // prettier-ignore
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
    if (skipped) {
      metrics.nonFinite();
      const poisoned = poisonCause(read, loss);
      if (this.config.onNonFinite === 'fail') return { step: t, epoch, loss: NaN, accuracy: NaN, lr: 0, gradNorm, poisoned }; // prettier-ignore
      // skip: version t+1 and the state after step t are copies of those before it
      const copy = redis.multi().copy(keys.params(id, t), keys.params(id, t + 1), 'REPLACE');
      states(t).forEach((k, i) => copy.copy(k, states(t + 1)[i], 'REPLACE'));
      const replies = await copy
        .del(keys.paramsStaging(id, t + 1))
        .set(keys.paramsVersion(id), t + 1)
        .publish(keys.paramsChannel(), `${id}:${t + 1}`)
        .exec();
      for (const [err] of replies ?? []) if (err) throw new Error(`skipping step ${t}: ${err.message}`);
    }
    // 6. delete what step t no longer needs, in one MULTI (a late duplicate reduce then finds no
    // state), after the next step's dispatch; the run's end deletes whatever is left
    this.cleanup = () =>
      redis
        .multi()
        .unlink(...gradKeys, keys.params(id, t), ...states(t), ...markers)
        .exec();
    // jobs parked waiting for parameters t+1 go back to the queue now (parked-jobs.ts); the reads
    // go out beside the previous step's cleanup
    const parked = keys.parked(id, t + 1);
    const [, taken] = await Promise.all([cleaned, redis.multi().smembers(parked).del(parked).exec()]);
    await promoteParked(queue, taken?.[0]?.[1]);
    phase('publish');
    for (const [p, seconds] of Object.entries(spent)) metrics.phase(p as keyof typeof spent, seconds);
    if (skipped) return { step: t, epoch, loss: NaN, accuracy: NaN, lr: 0, gradNorm, skipped };
    metrics.step(id, rows, loss / rows, correct / rows, lr, gradNorm, t + 1);
    return { step: t, epoch, loss: loss / rows, accuracy: correct / rows, lr, gradNorm };
  }
}

/**
 * What poisoned a sliced step: the update alone (a reducer marks a slice whose new parameters are
 * not all finite with a sum of squares of -Infinity, reduce.ts) when every other number of the
 * step is finite, else the loss or gradient.
 */
function poisonCause(markers: SliceMarker[], loss: number): 'gradient' | 'parameters' {
  const update = markers.some((m) => m.sq === -Infinity);
  const gradient = !Number.isFinite(loss) || markers.some((m) => m.sq !== -Infinity && !Number.isFinite(m.sq));
  return update && !gradient ? 'parameters' : 'gradient';
}

import type { Logger } from '@nestjs/common';
import { type OptimizerState } from '@nnq/nn';
import { encodeSnapshot, SNAPSHOT_EVERY } from '@nnq/exchange';
import { decodeShardResult } from '@nnq/protocol';
import {
  allFinite,
  NonFiniteError,
  ShardSum,
  StepUndo,
  updateStep,
  type RunConfig,
  type RunSetup,
} from '@nnq/training';
import type { DriverDeps } from '../runs/driver-deps';
import { promoteParked } from '../runs/parked-jobs';
import { gradientJobs, stepJobs } from '../runs/step-jobs';
import { PhaseTimer } from './phase-timer';
import type { StepOutcome, StepState, StepStrategy } from './step-strategy';
import { stragglerDeadline } from './stragglers';

/**
 * The replicated step (docs/deploy.md "Step strategies"): every worker keeps a replica of the
 * parameters and optimizer state (libs/exchange replica.ts) and makes parameters t+1 itself from
 * step t's shard gradients, summed in shard order with ShardSum and applied with updateStep, as
 * here. So the coordinator only orders: once every shard gradient of step t is written it sets the
 * run's version to t+1 and announces it, and workers go on at once. Then it applies the same update
 * to its own copy, off the workers' path, for checkpoints, the model and the non-finite check.
 * Every `snapshotEvery` steps it publishes a snapshot (parameters and optimizer state) for
 * replicas that join, restart or fall behind, and deletes the gradients before it.
 */
export class ReplicatedStep implements StepStrategy {
  private params!: Float32Array;
  private state!: OptimizerState;
  /** The last step whose gradient jobs are queued (ahead of their step: two steps ahead once running). */
  private dispatchedAhead = -1;
  private gradSum?: Float32Array;
  /** Always kept: a non-finite update is undone here, so the parameters in hand stay finite. */
  private readonly undo = new StepUndo();
  /** Steps whose gradients are still in Redis (deleted with the next snapshot). */
  private kept: number[] = [];

  constructor(
    private readonly deps: DriverDeps,
    private readonly runId: string,
    private readonly config: RunConfig,
    private readonly setup: RunSetup,
    private readonly logger: Logger,
    private readonly snapshotEvery = SNAPSHOT_EVERY,
  ) {}

  /**
   * The replicas start from a snapshot of `step` (a resumed run's checkpoint, or the initial
   * parameters). Gradients of steps from `step` on that a previous coordinator left are kept: the
   * steps are the same, so they are the same bytes.
   */
  async init(start: StepState, step: number): Promise<void> {
    ({ params: this.params, state: this.state } = start);
    this.dispatchedAhead = -1;
    await this.snapshot(step);
  }

  /** The parameters and state in hand (not copies: a checkpoint writes them before the next step). */
  pull(): Promise<StepState> {
    return Promise.resolve({ params: this.params, state: this.state });
  }

  /** Those in hand: a non-finite update was undone (`undo`), so they are the last finite ones. */
  lastFiniteParams(): Promise<Float32Array | undefined> {
    return Promise.resolve(this.params && allFinite(this.params) ? this.params : undefined);
  }

  async step(t: number, signal: AbortSignal): Promise<StepOutcome> {
    const { keys, redis, queue, waiter, metrics } = this.deps;
    const id = this.runId;
    const timer = new PhaseTimer(metrics);
    // 1. dispatch: step t's jobs and step t+1's, marked ahead, unless queued already (a step queues
    // the jobs of the step after next as soon as it has published: see 3)
    const { ranges, jobs, jobIds } = stepJobs(id, this.setup.plan, t);
    if (this.dispatchedAhead < t + 1) {
      const ahead = this.aheadJobs(t + 1);
      waiter.forget([...jobIds, ...ahead.map((j) => j.opts.jobId)]);
      await queue.addBulk(this.dispatchedAhead === t ? ahead : [...jobs, ...ahead]);
      this.dispatchedAhead = t + 1;
    }
    timer.lap('dispatch');
    // 2. wait until every shard's gradient is written (existence only: this copy reads them after the
    // publish, so that its reads do not compete with the workers' for Redis at the step's end)
    const gradKeys = ranges.map((r) => keys.gradient(id, t, r.shard));
    await waiter.waitFor(gradKeys, jobIds, signal, stragglerDeadline(this.deps, this.logger, t, jobs));
    this.kept.push(t);
    timer.lap('wait');
    // 3. the workers' go: version t+1, its notice, and the jobs parked waiting for it (parked-jobs.ts)
    const parked = keys.parked(id, t + 1);
    const replies = await redis
      .multi()
      .set(keys.paramsVersion(id), t + 1)
      .publish(keys.paramsChannel(), `${id}:${t + 1}`)
      .smembers(parked)
      .del(parked)
      .exec();
    await promoteParked(queue, replies?.[2]?.[1]);
    timer.lap('publish');
    // step t+2's jobs now, not after this copy's update: a worker done with step t+1 finds them
    // queued (they wait for version t+2, one step ahead of the version just published)
    const after = this.aheadJobs(t + 2);
    if (after.length) {
      waiter.forget(after.map((j) => j.opts.jobId));
      await queue.addBulk(after);
    }
    this.dispatchedAhead = t + 2;
    timer.lap('dispatch');
    // 4. this replica's update, while the workers compute step t+1 (the gradients stay until the next snapshot)
    const blobs = await Promise.all(gradKeys.map((k) => redis.getBuffer(k)));
    const sum = new ShardSum(ranges.length, (this.gradSum ??= new Float32Array(this.setup.paramCount)));
    let bytes = 0;
    for (const [s, blob] of blobs.entries()) {
      if (!blob) throw new Error(`run ${id}: the gradient of step ${t} shard ${s} is gone before its step's update`);
      sum.add(decodeShardResult(blob, this.setup.paramCount, this.config.gradientTransfer));
      bytes += blob.byteLength;
    }
    metrics.bytes('gradient', bytes);
    const reduced = sum.result();
    timer.lap('sum');
    const at = { t, epoch: this.setup.plan.epochOf(t) };
    const { record, nonFinite } = updateStep(
      this.config,
      this.params,
      reduced,
      this.state,
      at,
      this.setup.mask,
      this.undo,
    );
    timer.lap('optimizer');
    if (nonFinite) {
      metrics.nonFinite();
      // the replicas found it too: under "fail" they go no further, under "skip" they skipped it as here
      if (this.config.onNonFinite === 'fail') {
        timer.report();
        throw new NonFiniteError(t, nonFinite, { paramsKept: true });
      }
    }
    // 5. a snapshot every snapshotEvery steps; the gradients before it are no longer needed
    if ((t + 1) % this.snapshotEvery === 0) {
      await this.snapshot(t + 1);
      timer.lap('publish');
    }
    timer.report();
    if (!nonFinite) metrics.step(id, reduced.rows, record.loss, record.accuracy, record.lr, reduced.gradNorm, t + 1);
    return record;
  }

  /** Step `step`'s jobs, marked ahead; none past the run's last step. */
  private aheadJobs(step: number) {
    return step < this.setup.plan.totalSteps ? gradientJobs(this.runId, this.setup.plan, step, true) : [];
  }

  /**
   * Publish parameters and state `version` as the newest snapshot (the snapshot, then its version,
   * then the previous snapshot and the kept gradients of steps before `version` go). A replica
   * that reads the version before the old snapshot goes finds one of the two.
   */
  private async snapshot(version: number): Promise<void> {
    const { keys, redis } = this.deps;
    const id = this.runId;
    const before = await redis.get(keys.replicaSnapshotVersion(id));
    await redis.set(keys.replicaSnapshot(id, version), encodeSnapshot(this.config, this.params, this.state));
    await redis.set(keys.replicaSnapshotVersion(id), version);
    const gone = this.kept.filter((s) => s < version);
    this.kept = this.kept.filter((s) => s >= version);
    const del = gone.flatMap((s) => this.setup.plan.shardsOf(s).map((r) => keys.gradient(id, s, r.shard)));
    if (before !== null && Number(before) !== version) del.push(keys.replicaSnapshot(id, Number(before)));
    if (del.length) await redis.del(...del);
    this.deps.metrics.bytes('parameters', this.params.byteLength);
  }
}

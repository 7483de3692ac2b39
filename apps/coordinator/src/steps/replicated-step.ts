import type { Logger } from '@nestjs/common';
import { decodeStepSummary, encodeSnapshot, Replicas, SNAPSHOT_EVERY, summaryRecord } from '@nnq/exchange';
import { allFinite, NonFiniteError, type RunConfig, type RunSetup } from '@nnq/training';
import type { DriverDeps } from '../runs/driver-deps';
import { promoteParked } from '../runs/parked-jobs';
import { gradientJobs, stepJobs } from '../runs/step-jobs';
import { PhaseTimer } from './phase-timer';
import type { StepOutcome, StepState, StepStrategy } from './step-strategy';
import { stragglerDeadline } from './stragglers';

/**
 * How long the coordinator waits for a replica's summary of a step before it applies the step to
 * its own copy and writes the summary itself (replicas write it within milliseconds of the step's
 * last gradient; none may when every worker is gone, or for the run's last step, which no replica needs).
 */
const SUMMARY_WAIT_MS = 1_000;

/** How often the coordinator applies a step itself when its summary does not land. */
const OWN_ATTEMPTS = 5;

/** A summary not written within SUMMARY_WAIT_MS. */
class SummaryLate extends Error {}

/**
 * The replicated step (docs/deploy.md "Step strategies"): every worker keeps a replica of the
 * parameters and optimizer state (libs/exchange replica.ts) and makes parameters t+1 itself from
 * step t's shard gradients, summed in shard order with ShardSum and applied with updateStep. So the
 * coordinator only orders: once every shard gradient of step t is written it sets the run's version
 * to t+1 and announces it, and workers go on at once. It reads no gradient: the step's record comes
 * from the summary the first replica to apply it writes (step-summary.ts), non-finite steps
 * included, and every SNAPSHOT_EVERY steps it publishes the snapshot that replica wrote first
 * (parameters and optimizer state, for replicas that join, restart or fall behind) and deletes
 * the gradients before it. It keeps a replica of its own too, brought up to date only when it
 * needs the parameters (checkpoints, the model, a failed run's last finite ones), when a summary
 * or snapshot is late, and for the run's last step.
 */
export class ReplicatedStep implements StepStrategy {
  /** The last step whose gradient jobs are queued (ahead of their step: two steps ahead once running). */
  private dispatchedAhead = -1;
  /** This coordinator's own replica, advanced on demand. */
  private replica: Replicas;
  /** Steps whose gradients and summaries are still in Redis (deleted with the next snapshot). */
  private kept: number[] = [];

  constructor(
    private readonly deps: DriverDeps,
    private readonly runId: string,
    private readonly config: RunConfig,
    private readonly setup: RunSetup,
    private readonly logger: Logger,
    private readonly snapshotEvery = SNAPSHOT_EVERY,
  ) {
    this.replica = this.ownReplica();
  }

  /**
   * The replicas start from a snapshot of `step` (a resumed run's checkpoint, or the initial
   * parameters). Gradients of steps from `step` on that a previous coordinator left are kept: the
   * steps are the same, so they are the same bytes.
   */
  async init(start: StepState, step: number): Promise<void> {
    this.dispatchedAhead = -1;
    // this process's replica starts again from the snapshot below
    this.replica = this.ownReplica();
    await this.publishSnapshot(step, encodeSnapshot(this.config, start.params, start.state));
  }

  /** Parameters and state `step`: this process's replica brought to them (not copies: used before the next step). */
  async pull(step: number): Promise<StepState> {
    let out: StepState | undefined;
    await this.replica.paramsAt(this.runId, step, (params, state) => (out = { params, state }));
    return out!;
  }

  /** Parameters `step` when finite (a failed run's model); undefined when they cannot be made. */
  async lastFiniteParams(step: number): Promise<Float32Array | undefined> {
    try {
      const { params } = await this.pull(step);
      return allFinite(params) ? params : undefined;
    } catch {
      return undefined;
    }
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
    // 2. wait until every shard's gradient is written (existence only: the replicas read them)
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
    // step t+2's jobs now: a worker done with step t+1 finds them queued (they wait for version t+2)
    const after = this.aheadJobs(t + 2);
    if (after.length) {
      waiter.forget(after.map((j) => j.opts.jobId));
      await queue.addBulk(after);
    }
    this.dispatchedAhead = t + 2;
    timer.lap('dispatch');
    // 4. the step's record, from the summary of the first replica that applied it
    const summary = await this.summary(t, signal);
    timer.lap('wait');
    const record = summaryRecord(summary, { t, epoch: this.setup.plan.epochOf(t) });
    if (summary.nonFinite) {
      metrics.nonFinite();
      // the replicas found it: under "fail" they go no further, under "skip" they undid it
      if (this.config.onNonFinite === 'fail') {
        timer.report();
        throw new NonFiniteError(t, summary.nonFinite, { paramsKept: true });
      }
    }
    // 5. a snapshot every snapshotEvery steps; the gradients before it are no longer needed
    if ((t + 1) % this.snapshotEvery === 0) {
      await this.publishSnapshot(t + 1);
      timer.lap('publish');
    }
    timer.report();
    if (!summary.nonFinite)
      metrics.step(id, summary.rows, record.loss, record.accuracy, record.lr, record.gradNorm, t + 1);
    return record;
  }

  /**
   * Step t's summary: the one a replica wrote, or, past SUMMARY_WAIT_MS (at once for the run's
   * last step), the one this process's replica writes as it applies the step.
   */
  private async summary(t: number, signal: AbortSignal) {
    const { keys, redis, waiter } = this.deps;
    const key = keys.replicaStep(this.runId, t);
    const late = () => Promise.reject(new SummaryLate());
    let own = t + 1 >= this.setup.plan.totalSteps;
    for (let attempt = 0; ; attempt++) {
      if (attempt >= OWN_ATTEMPTS) throw new Error(`run ${this.runId}: no summary of step ${t} was written`);
      if (own) await this.applyOwn(t, attempt);
      try {
        await waiter.waitFor([key], [], signal, { afterMs: SUMMARY_WAIT_MS, onDeadline: late });
        break;
      } catch (err) {
        if (!(err instanceof SummaryLate)) throw err;
        own = true;
      }
    }
    const b = await redis.getBuffer(key);
    if (!b) throw new Error(`run ${this.runId}: the summary of step ${t} is gone`);
    return decodeStepSummary(b, key);
  }

  /**
   * Apply step t to this process's replica, which writes the step's summary; a second attempt (the
   * first one's write did not land) starts a new replica, from the newest snapshot.
   */
  private async applyOwn(t: number, attempt: number): Promise<void> {
    if (attempt > 0) this.replica = this.ownReplica();
    await this.pull(t + 1);
    await this.replica.flush(this.runId);
  }

  /** A new replica for this process (one run's: it holds the run's parameters only). */
  private ownReplica(): Replicas {
    return new Replicas(this.deps.redis, this.deps.keys, 1);
  }

  /** Step `step`'s jobs, marked ahead; none past the run's last step. */
  private aheadJobs(step: number) {
    return step < this.setup.plan.totalSteps ? gradientJobs(this.runId, this.setup.plan, step, true) : [];
  }

  /**
   * Publish snapshot `version` as the newest: the one given, or else the one a replica wrote (or,
   * when none did, this process's replica's). Then its version is set (the snapshot kept for
   * good), and the previous snapshot and the kept gradients and summaries of steps before
   * `version` go. A replica that reads the version before the old snapshot goes finds one of the two.
   */
  private async publishSnapshot(version: number, bytes?: Buffer): Promise<void> {
    const { keys, redis } = this.deps;
    const id = this.runId;
    const key = keys.replicaSnapshot(id, version);
    const before = await redis.get(keys.replicaSnapshotVersion(id));
    if (bytes) await redis.set(key, bytes);
    else if (!(await redis.exists(key))) {
      const { params, state } = await this.pull(version);
      await redis.set(key, encodeSnapshot(this.config, params, state));
    }
    await redis.multi().persist(key).set(keys.replicaSnapshotVersion(id), version).exec();
    const gone = this.kept.filter((s) => s < version);
    this.kept = this.kept.filter((s) => s >= version);
    const del = gone.flatMap((s) => [
      ...this.setup.plan.shardsOf(s).map((r) => keys.gradient(id, s, r.shard)),
      keys.replicaStep(id, s),
    ]);
    if (before !== null && Number(before) !== version) del.push(keys.replicaSnapshot(id, Number(before)));
    if (del.length) await redis.del(...del);
    this.deps.metrics.bytes('parameters', this.setup.paramCount * 4);
  }
}

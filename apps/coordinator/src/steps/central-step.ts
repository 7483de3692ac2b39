import type { Logger } from '@nestjs/common';
import { type OptimizerState } from '@nnq/nn';
import { decodeShardResult, encodeFloat32 } from '@nnq/protocol';
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
import { storedFiniteParams } from '../runs/run-end';
import { gradientJobs, stepJobs } from '../runs/step-jobs';
import { PhaseTimer } from './phase-timer';
import type { StepOutcome, StepState, StepStrategy } from './step-strategy';
import { stragglerDeadline } from './stragglers';

/**
 * The central step: dispatch one job per shard, wait for every shard's gradient, sum them in shard
 * order here, apply the optimizer here, publish version t+1, delete what step t no longer needs.
 * The parameters and optimizer state live in this process between steps.
 */
export class CentralStep implements StepStrategy {
  private params!: Float32Array;
  private state!: OptimizerState;
  /** Step whose gradient jobs are already queued (sent ahead with the previous step). */
  private dispatchedAhead = -1;
  /** Reused buffer of the step's gradient sum. */
  private gradSum?: Float32Array;
  /**
   * The parameters and state before an update, to undo a non-finite one (`onNonFinite: "skip"`;
   * a run that fails writes the version published before, see lastFiniteParams).
   */
  private readonly undo: StepUndo | null;

  constructor(
    private readonly deps: DriverDeps,
    private readonly runId: string,
    private readonly config: RunConfig,
    private readonly setup: RunSetup,
    private readonly logger: Logger,
  ) {
    this.undo = config.onNonFinite === 'skip' ? new StepUndo() : null;
  }

  init(start: StepState): Promise<void> {
    ({ params: this.params, state: this.state } = start);
    return Promise.resolve();
  }

  /** The parameters and state in hand (not copies: a checkpoint writes them before the next step). */
  pull(): Promise<StepState> {
    return Promise.resolve({ params: this.params, state: this.state });
  }

  /**
   * Those in hand when finite, else the version in Redis, which is never non-finite (an update that
   * overflowed, left in hand when the run fails, was not published).
   */
  async lastFiniteParams(step: number): Promise<Float32Array | undefined> {
    if (this.params && allFinite(this.params)) return this.params;
    return storedFiniteParams(this.deps, this.runId, step, this.setup.paramCount);
  }

  async step(t: number, signal: AbortSignal): Promise<StepOutcome> {
    const { keys, redis, queue, waiter, metrics } = this.deps;
    const id = this.runId;
    const timer = new PhaseTimer(metrics);
    // 1. dispatch: one job per shard; the jobId makes a re-added job a no-op. Step t+1's jobs go
    // out now too, marked `ahead`: a worker that finishes early gathers their rows while this
    // step ends, then waits for parameters t+1 (the step order and the sums are unchanged).
    const { ranges, jobs, jobIds } = stepJobs(id, this.setup.plan, t);
    const ahead = t + 1 < this.setup.plan.totalSteps ? gradientJobs(id, this.setup.plan, t + 1, true) : [];
    waiter.forget([...jobIds, ...ahead.map((j) => j.opts.jobId)]);
    await queue.addBulk(this.dispatchedAhead === t ? ahead : [...jobs, ...ahead]);
    this.dispatchedAhead = t + 1;
    timer.lap('dispatch');
    // 2. wait until every shard's result key exists
    const gradKeys = ranges.map((r) => keys.gradient(id, t, r.shard));
    const sum = new ShardSum(ranges.length, this.gradSum ?? (this.gradSum = new Float32Array(this.setup.paramCount)));
    let bytes = 0;
    let summing = 0;
    let counted = 0n;
    await waiter.waitFor(
      gradKeys,
      jobIds,
      signal,
      stragglerDeadline(this.deps, this.logger, t, jobs),
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
    timer.lap('wait', -summing);
    timer.add('sum', summing);
    const reduced = sum.result();
    metrics.bytes('gradient', bytes);
    // 4. optimizer; an update that makes a parameter non-finite is undone (updateStep)
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
    if (nonFinite) {
      timer.report();
      metrics.nonFinite();
      if (this.config.onNonFinite === 'fail') throw new NonFiniteError(t, nonFinite, { paramsKept: true });
      // skip: publish the same parameters as the next version
      await this.publish(t, gradKeys);
      return record;
    }
    timer.lap('optimizer');
    // 5. publish version t+1, delete what step t no longer needs
    metrics.bytes('parameters', await this.publish(t, gradKeys));
    timer.lap('publish');
    timer.report();
    metrics.step(id, reduced.rows, record.loss, record.accuracy, record.lr, reduced.gradNorm, t + 1);
    return record;
  }

  /**
   * Publish this.params as version t+1 in one MULTI: the parameters, the run's version, deletion
   * of what step t no longer needs, the notice workers queued ahead wait for, and the jobs parked
   * waiting for t+1, which go back to the queue before step t+2's are queued (parked-jobs.ts).
   * Returns the bytes.
   */
  private async publish(t: number, gradKeys: string[]): Promise<number> {
    const { keys, redis } = this.deps;
    const id = this.runId;
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
}

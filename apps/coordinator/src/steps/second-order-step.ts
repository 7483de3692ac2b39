import type { Logger } from '@nestjs/common';
import { type SecondOrderConfig, type SecondOrderState } from '@nnq/nn';
import {
  decodeShardResult,
  encodeFloat32,
  JOB_CURVATURE,
  JOB_OPTIONS,
  JOB_PASS_GRADIENT,
  passJobId,
  type PassJob,
} from '@nnq/protocol';
import {
  createSecondOrderState,
  isFullBatch,
  secondOrderOuterStep,
  secondOrderShards,
  type RunConfig,
  type RunSetup,
  type SecondOrderPasses,
  type SecondOrderShard,
} from '@nnq/training';
import type { DriverDeps } from '../runs/driver-deps';
import { storedFiniteParams } from '../runs/run-end';
import type { StepOutcome, StepState, StepStrategy } from './step-strategy';
import { stragglerDeadline } from './stragglers';

/**
 * A step of a second-order run (optimizer lbfgs or hessian_free): one outer step of the optimizer,
 * here, driven by distributed passes (docs/deploy.md "Second-order passes"). Each loss-and-gradient
 * evaluation is one pass of `pass-gradient` jobs, each Gauss-Newton product one pass of `curvature`
 * jobs, one job per shard of the step (secondOrderShards); the pass's tensors go through Redis
 * (soParams, soVector), the shards' results are summed in shard order in float64 by the same code
 * as trainSecondOrder's (second-order-trainer-step.ts), so the run's bytes are the in-process ones.
 * Passes are numbered within the step, so a coordinator that resumes from a checkpoint makes the
 * same passes under the same keys and job ids; a result left by an earlier life holds the same bytes.
 */
export class SecondOrderStep implements StepStrategy {
  /** The optimizer's float64 parameters (published and checkpointed as float32, kept whole in the checkpoint). */
  private params!: Float64Array;
  private state!: SecondOrderState;
  /** The stand-in first-order state the driver's checkpoints carry beside (never applied). */
  private standIn!: StepState['state'];

  constructor(
    private readonly deps: DriverDeps,
    private readonly runId: string,
    private readonly config: RunConfig,
    private readonly setup: RunSetup,
    private readonly logger: Logger,
    private readonly so: SecondOrderConfig,
  ) {}

  init(start: StepState): Promise<void> {
    this.standIn = start.state;
    this.params = start.secondOrder ? start.secondOrder.params.slice() : Float64Array.from(start.params);
    this.state = start.secondOrder ? start.secondOrder.state : createSecondOrderState(this.so);
    return Promise.resolve();
  }

  pull(): Promise<StepState> {
    const params = Float32Array.from(this.params);
    return Promise.resolve({ params, state: this.standIn, secondOrder: { state: this.state, params: this.params } });
  }

  async lastFiniteParams(step: number): Promise<Float32Array | undefined> {
    const p = this.params && Float32Array.from(this.params);
    if (p && p.every((v) => Number.isFinite(v))) return p;
    return storedFiniteParams(this.deps, this.runId, step, this.setup.paramCount);
  }

  async step(t: number, signal: AbortSignal): Promise<StepOutcome> {
    const { keys, redis } = this.deps;
    const id = this.runId;
    const train = this.setup.splits.train.length;
    const shards = secondOrderShards(this.config, this.setup.plan, train, t);
    const rows = shards.reduce((n, r) => n + r.end - r.start, 0);
    const points: string[] = [];
    let pass = 0;
    const passes: SecondOrderPasses = {
      lossAndGrad: async (p32, use) => {
        const n = pass++;
        const at = keys.soParams(id, t, n);
        await redis.set(at, encodeFloat32(p32));
        await this.run('pass-gradient', t, n, shards, signal, (blob) =>
          use(decodeShardResult(blob, this.setup.paramCount, 'float32')),
        );
        await redis.del(at);
      },
      curvatureAt: async (p32) => {
        const point = pass++;
        const at = keys.soParams(id, t, point);
        points.push(at);
        await redis.set(at, encodeFloat32(p32));
        return async (v, use) => {
          const n = pass++;
          const vKey = keys.soVector(id, t, n);
          await redis.set(vKey, float64Bytes(v));
          await this.run(
            'curvature',
            t,
            n,
            shards,
            signal,
            (blob) => use(float64Of(blob, this.setup.paramCount)),
            point,
          );
          await redis.del(vKey);
        };
      },
    };
    const at = {
      so: this.so,
      params: this.params,
      state: this.state,
      mask: this.setup.mask,
      fullBatch: isFullBatch(this.config, train),
      rows,
      step: t,
      epoch: this.setup.plan.epochOf(t),
    };
    const { record, stop } = await secondOrderOuterStep(at, passes);
    if (points.length) await redis.del(...points);
    await this.publish(t);
    this.deps.metrics.step(id, rows, record.loss, record.accuracy, record.lr, record.gradNorm, t + 1);
    if (stop) this.logger.log(`the optimizer stopped at step ${t}: ${stop}`);
    return stop ? { ...record, stopped: stop } : record;
  }

  /**
   * One distributed pass: a job per shard (the job id makes a re-added job a no-op), wait for
   * every result (a shard late by NNQ_STRAGGLER_MS is queued again under a copy id), hand them
   * over in shard order, delete them.
   */
  private async run(
    kind: PassJob['kind'],
    t: number,
    pass: number,
    shards: SecondOrderShard[],
    signal: AbortSignal,
    use: (blob: Buffer) => void,
    point?: number,
  ): Promise<void> {
    const { keys, redis, queue, waiter } = this.deps;
    const id = this.runId;
    const jobs = shards.map((r) => {
      const fields = { runId: id, step: t, pass, shard: r.shard, shards: shards.length, start: r.start, end: r.end };
      const data: PassJob =
        kind === 'curvature'
          ? { kind, ...fields, ...(r.epoch === undefined ? {} : { epoch: r.epoch }), point: point! }
          : { kind, ...fields, ...(r.epoch === undefined ? {} : { epoch: r.epoch }) };
      const jobId = passJobId(kind, id, t, pass, r.shard);
      const name = kind === 'curvature' ? JOB_CURVATURE : JOB_PASS_GRADIENT;
      return { name, data, opts: { ...JOB_OPTIONS, jobId, priority: shards.length } };
    });
    const jobIds = jobs.map((j) => j.opts.jobId);
    const resultKeys = shards.map((r) => keys.soResult(id, t, pass, r.shard));
    waiter.forget(jobIds);
    await queue.addBulk(jobs);
    // a late shard runs again under a copy id, as a gradient shard does (stragglers.ts)
    const late = stragglerDeadline(this.deps, this.logger, t, jobs, pass);
    await waiter.waitFor(resultKeys, jobIds, signal, late, {
      read: (s) => redis.getBuffer(resultKeys[s]),
      use: (_s, blob) => use(blob),
    });
    await redis.del(...resultKeys);
  }

  /** Parameters t+1 (float32) for evaluations, the model and the curvature signal; version t+1. */
  private async publish(t: number): Promise<void> {
    const { keys, redis } = this.deps;
    const id = this.runId;
    await redis
      .multi()
      .set(keys.params(id, t + 1), encodeFloat32(Float32Array.from(this.params)))
      .set(keys.paramsVersion(id), t + 1)
      .del(keys.params(id, t))
      .publish(keys.paramsChannel(), `${id}:${t + 1}`)
      .exec();
  }
}

function float64Bytes(v: Float64Array): Buffer {
  const out = Buffer.allocUnsafe(v.length * 8);
  for (let i = 0; i < v.length; i++) out.writeDoubleLE(v[i], i * 8);
  return out;
}

function float64Of(b: Buffer, n: number): Float64Array {
  if (b.byteLength !== n * 8) throw new RangeError(`a curvature result has ${b.byteLength} bytes, expected ${n * 8}`);
  return Float64Array.from({ length: n }, (_, i) => b.readDoubleLE(i * 8));
}

/**
 * A simulated cluster for unit tests of the coordinator's step strategies (apps/coordinator/src/steps):
 * BullMQ workers on a real Redis that answer gradient jobs with a deterministic gradient of the
 * parameters they read (simShard), written as a worker writes it (SET NX, then a notice on the
 * results channel), run reduce jobs with the worker's own SliceReducer (@nnq/exchange), and answer evaluation jobs
 * with a constant part. The model's arithmetic is gone, the coordination and the optimizer are not.
 */
import { createOptimizerState, type OptimizerState } from '@nnq/nn';
import {
  decodeFloat32,
  decodeShardResult,
  encodeFloat32,
  encodeShardResult,
  KeySchema,
  SHARD_QUEUE,
  ShardJobSchema,
  type GradientJob,
} from '@nnq/protocol';
import { loadDataset } from '@nnq/data';
import {
  initialParams,
  setupRun,
  ShardSum,
  StepUndo,
  stepStrategyOf,
  updateStep,
  type RunConfig,
  type RunSetup,
  type StepRecord,
} from '@nnq/training';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { QueueEvents } from 'bullmq';
import { ReplicaNonFiniteError, Replicas, SliceReducer } from '@nnq/exchange';
import type { CoordinatorMetrics } from '../../apps/coordinator/src/coordinator.metrics';
import type { DriverDeps } from '../../apps/coordinator/src/runs/driver-deps';
import { ShardWaiter } from '../../apps/coordinator/src/runs/shard-waiter';
import type { StepOutcome, StepStrategy } from '../../apps/coordinator/src/steps/step-strategy';

/** What the simulated workers do besides answering: delay or poison some gradient jobs. */
export interface SimBehaviour {
  /** Milliseconds a gradient job sleeps before it answers (by BullMQ job id). */
  delayMs?: (jobId: string) => number;
  /** Steps whose gradient jobs answer a NaN loss and gradient. */
  poisoned?: Set<number>;
}

/**
 * Shard result of rows [start, end) at `params`: the gradient of J = 1/2 sum_r ||p - c_r||^2 with
 * c_r,i = sin(7r + i) / 4, so each step depends on the parameters it read. Encoded as a worker
 * encodes it.
 */
export function simShard(params: Float32Array, start: number, end: number, poisoned = false): Buffer {
  const grad = new Float32Array(params.length);
  let loss = 0;
  for (let r = start; r < end; r++) {
    for (let i = 0; i < params.length; i++) {
      const d = params[i] - Math.sin(7 * r + i) / 4;
      grad[i] += d;
      loss += (d * d) / 2;
    }
  }
  if (poisoned) grad.fill(NaN);
  return encodeShardResult({ grad, loss: poisoned ? NaN : loss, correct: 0, rows: end - start });
}

/** The run in one process: each step's shards in order, the shard-order sum, the optimizer. */
export function referenceSteps(
  config: RunConfig,
  setup: RunSetup,
  params: Float32Array,
  steps: number,
  poisoned = new Set<number>(),
): { params: Float32Array[]; states: OptimizerState[]; state: OptimizerState; records: StepRecord[] } {
  const p = params.slice();
  const state = createOptimizerState(config.optimizer, setup.paramCount);
  const undo = config.onNonFinite === 'skip' ? new StepUndo() : null;
  const after: Float32Array[] = [];
  const states: OptimizerState[] = [];
  const records: StepRecord[] = [];
  for (let t = 0; t < steps; t++) {
    const shards = setup.plan.shardsOf(t);
    const sum = new ShardSum(shards.length, new Float32Array(setup.paramCount));
    for (const r of shards) sum.add(decodeShardResult(simShard(p, r.start, r.end, poisoned.has(t)), setup.paramCount));
    records.push(
      updateStep(config, p, sum.result(), state, { t, epoch: setup.plan.epochOf(t) }, setup.mask, undo).record,
    );
    after.push(p.slice());
    const slots = Object.fromEntries(Object.entries(state.slots).map(([k, v]) => [k, v.slice()]));
    states.push({ type: state.type, step: state.step, slots });
  }
  return { params: after, states, state, records };
}

/** Metrics calls the strategies make, recorded (CoordinatorMetrics' methods they call). */
export class RecordedMetrics {
  readonly phases: string[] = [];
  stragglers = 0;
  nonFinite = 0;
  steps = 0;
  asMetrics(): CoordinatorMetrics {
    return {
      phase: (p: string) => this.phases.push(p),
      stragglers: (n: number) => (this.stragglers += n),
      nonFinite: () => this.nonFinite++,
      step: () => this.steps++,
      bytes: () => undefined,
      evaluation: () => undefined,
    } as unknown as CoordinatorMetrics;
  }
}

/** Redis, a fresh prefix, the shard queue, a waiter and `count` simulated workers: DriverDeps for a strategy. */
export class SimCluster {
  readonly keys = new KeySchema(`sim-${randomUUID().slice(0, 8)}`);
  readonly redis: Redis;
  readonly queue: Queue;
  readonly metrics = new RecordedMetrics();
  private readonly waiter: ShardWaiter;
  private readonly reducer: SliceReducer;
  /** The workers' replicas of a replicated run (one process here: one replica a run). */
  readonly replicas: Replicas;
  private replicated = false;
  private readonly workers: Worker[] = [];
  /** Gradient jobs still running (a straggler's original sleeps past its step): close waits for them. */
  private readonly inFlight = new Set<Promise<number>>();
  /** Set by close: jobs waiting for parameters stop waiting. */
  private closing = false;
  /** Ids of the jobs the workers took, in order (completed jobs leave the queue). */
  readonly taken: string[] = [];

  constructor(
    url: string,
    private readonly behaviour: SimBehaviour = {},
    readonly stragglerMs = 0,
  ) {
    this.redis = new Redis(url, { maxRetriesPerRequest: null });
    const opts = { connection: this.redis.duplicate(), prefix: this.keys.bullPrefix() };
    this.queue = new Queue(SHARD_QUEUE, opts);
    this.waiter = new ShardWaiter(this.redis, this.queue, new EventEmitter() as unknown as QueueEvents, 20);
    this.reducer = new SliceReducer(this.redis, this.keys, (jobs) => this.queue.addBulk(jobs));
    this.replicas = new Replicas(this.redis, this.keys);
    // concurrency 4: a straggler's copy runs while the original sleeps and ahead jobs wait
    this.workers.push(new Worker(SHARD_QUEUE, (job) => this.process(job), { ...opts, concurrency: 4 }));
  }

  /** Listen for results; store the run's config (reduce jobs read it, as workers do). */
  async start(runId: string, config: RunConfig): Promise<void> {
    await this.waiter.listen(this.keys.resultsChannel());
    await this.redis.set(this.keys.runConfig(runId), JSON.stringify(config));
    // the run is live: results (replicas' step summaries too) are written only while its manifest is there
    await this.redis.set(this.keys.runManifest(runId), '{}');
    this.replicated = stepStrategyOf(config) === 'replicated';
  }

  deps(): DriverDeps {
    const { redis, keys, queue, waiter, stragglerMs } = this;
    return {
      redis,
      keys,
      queue,
      waiter,
      stragglerMs,
      metrics: this.metrics.asMetrics(),
      store: null!,
      dataDir: '',
      blobs: null!,
    };
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.close(true)));
    await Promise.all([this.queue.close(), this.waiter.close(), this.reducer.close()]);
    await Promise.all(this.inFlight);
    const left = await this.redis.keys(`${this.keys.prefix}:*`);
    if (left.length) await this.redis.del(...left);
    await this.redis.quit();
  }

  private async process(job: Job): Promise<unknown> {
    this.taken.push(job.id!);
    const data = ShardJobSchema.parse(job.data);
    if (data.kind === 'reduce') return this.reducer.reduce(data, job.id);
    if (data.kind === 'evaluate') throw new Error('the simulated workers do not evaluate');
    const run = this.gradient(data, job.id!);
    this.inFlight.add(run);
    return run.finally(() => this.inFlight.delete(run));
  }

  private async gradient(data: GradientJob, jobId: string): Promise<number> {
    const { redis, keys } = this;
    const delay = this.behaviour.delayMs?.(jobId) ?? 0;
    if (delay) await new Promise((r) => setTimeout(r, delay));
    const params = await (this.replicated ? this.replicaParams(data) : this.storedParams(data));
    if (!params) return 0; // a late copy of a step that is over
    const result = simShard(params, data.start, data.end, this.behaviour.poisoned?.has(data.step));
    const key = keys.gradient(data.runId, data.step, data.shard);
    const written = await redis.set(key, result, 'PX', 600_000, 'NX');
    await redis.publish(keys.resultsChannel(), key);
    return written ? 1 : 0;
  }

  /** Parameters `data.version` from Redis; a job queued ahead waits for them (a real worker parks it or waits). */
  private async storedParams(data: GradientJob): Promise<Float32Array | null> {
    const { redis, keys } = this;
    let blob = await redis.getBuffer(keys.params(data.runId, data.version));
    for (let i = 0; !blob && data.ahead && !this.closing && i < 5_000; i++) {
      await new Promise((r) => setTimeout(r, 2));
      blob = await redis.getBuffer(keys.params(data.runId, data.version));
    }
    return blob && decodeFloat32(blob, blob.byteLength / 4);
  }

  /**
   * Parameters `data.version` of a replicated run from the replica, once the run's version says
   * step version-1's gradients are all in (a real worker waits for the notice); null when the step
   * is over, or the run failed on a non-finite step.
   */
  private async replicaParams(data: GradientJob): Promise<Float32Array | null> {
    const version = async () => Number(await this.redis.get(this.keys.paramsVersion(data.runId)));
    let v = await version();
    for (let i = 0; v < data.version && !this.closing && i < 5_000; i++) {
      await new Promise((r) => setTimeout(r, 2));
      v = await version();
    }
    if (v !== data.version) return null;
    let params: Float32Array | null = null;
    try {
      await this.replicas.paramsAt(data.runId, data.version, (p) => (params = p.slice()));
    } catch (err) {
      if (err instanceof ReplicaNonFiniteError) return null;
      throw err;
    }
    return params;
  }
}

/** What a strategy did over a run's first steps, with its parameters after each. */
export interface SimRun {
  setup: RunSetup;
  initial: Float32Array;
  outcomes: StepOutcome[];
  /** pull(t + 1).params after step t, copied. */
  params: Float32Array[];
  strategy: StepStrategy;
}

/**
 * Start a run on `cluster` as RunDriver.restore does (parameters 0, the strategy's init, then the
 * version) and drive `steps` steps with the strategy `make` builds; a step that throws ends the
 * drive early, its error in `error`.
 */
export async function driveSteps(
  cluster: SimCluster,
  runId: string,
  config: RunConfig,
  steps: number,
  make: (deps: DriverDeps, setup: RunSetup) => StepStrategy,
): Promise<SimRun & { error?: unknown }> {
  const setup = setupRun(config, loadDataset(config.dataset.source!));
  const initial = initialParams(config);
  await cluster.start(runId, config);
  const strategy = make(cluster.deps(), setup);
  await cluster.redis.set(cluster.keys.params(runId, 0), encodeFloat32(initial));
  await strategy.init({ params: initial.slice(), state: createOptimizerState(config.optimizer, setup.paramCount) }, 0);
  await cluster.redis.set(cluster.keys.paramsVersion(runId), 0);
  const run: SimRun & { error?: unknown } = { setup, initial, outcomes: [], params: [], strategy };
  const signal = new AbortController().signal;
  try {
    for (let t = 0; t < steps; t++) {
      run.outcomes.push(await strategy.step(t, signal));
      run.params.push((await strategy.pull(t + 1)).params.slice());
    }
  } catch (err) {
    run.error = err;
  }
  return run;
}

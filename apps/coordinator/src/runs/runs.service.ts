import { InjectQueue } from '@nestjs/bullmq';
import {
  BadRequestException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { KEYS, NNQ_CONFIG, REDIS, type NnqConfig } from '@nnq/cluster';
import {
  DataError,
  DatasetCache,
  loadDataset,
  registerDataset,
  SourceError,
  type Dataset,
  type FileAccess,
} from '@nnq/data';
import { checkSourceAccess, coordinatorFileAccess } from '../datasets/data-access';
import { SHARD_QUEUE, type KeySchema } from '@nnq/protocol';
import {
  memoryBudgetProblems,
  RunConfigError,
  RunSetupError,
  parseLocalRunConfig,
  setupRun,
  type MemoryBudgets,
  type RunConfig,
  type RunManifest,
  type RunSetup,
} from '@nnq/training';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { modelSummary, type SecondOrderConfig } from '@nnq/nn';
import { randomBytes } from 'node:crypto';
import { CoordinatorMetrics } from '../coordinator.metrics';
import { RUN_BLOBS, type RunBlobs } from './run-blobs';
import { RunDriver } from './run-driver';
import { finishRun } from './run-end';
import { JobFailures } from './job-failures';
import { isTerminal, type RunRecord } from '@nnq/protocol';
import { RunStore } from './run-store.service';
import { ShardWaiter } from './shard-waiter';
import { ShardEvents } from '../shard-events.service';

/** Submits, drives, cancels and resumes runs. */
@Injectable()
export class RunsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RunsService.name);
  private readonly drivers = new Map<string, RunDriver>();
  private readonly finished = new Map<string, Promise<RunRecord>>();
  private waiter!: ShardWaiter;
  /** Squatted job ids and jobs that killed their workers (job-failures.ts). */
  private failures!: JobFailures;
  private readonly datasets: DatasetCache;
  /** Which dataset files submitted runs may name (NNQ_DATA_ROOTS). */
  readonly fileAccess: FileAccess;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(KEYS) private readonly keys: KeySchema,
    @Inject(NNQ_CONFIG) private readonly config: NnqConfig,
    @InjectQueue(SHARD_QUEUE) private readonly queue: Queue,
    private readonly store: RunStore,
    private readonly metrics: CoordinatorMetrics,
    @Inject(RUN_BLOBS) private readonly blobs: RunBlobs,
    private readonly shardEvents: ShardEvents,
  ) {
    this.fileAccess = coordinatorFileAccess(config);
    this.datasets = new DatasetCache(redis, keys.prefix, { maxBytes: 256 << 20, fileAccess: this.fileAccess });
  }

  /** What a run may need of a worker's and of this coordinator's memory (NNQ_*_MEMORY_MB). */
  get budgets(): MemoryBudgets {
    return { workerMb: this.config.NNQ_WORKER_MEMORY_MB, coordinatorMb: this.config.NNQ_COORDINATOR_MEMORY_MB };
  }

  async onApplicationBootstrap(): Promise<void> {
    this.failures = new JobFailures(this.queue, {
      workerMemoryMb: this.config.NNQ_WORKER_MEMORY_MB,
      maxWorkerDeaths: this.config.NNQ_MAX_WORKER_DEATHS,
    });
    this.waiter = new ShardWaiter(this.redis, this.queue, this.shardEvents.events, undefined, this.failures);
    await this.waiter.listen(this.keys.resultsChannel());
    await this.resumeUnfinished();
  }

  async onApplicationShutdown(): Promise<void> {
    for (const d of this.drivers.values()) d.shutdown();
    await Promise.allSettled([...this.finished.values()]);
    await this.waiter?.close();
  }

  /** Validate, load and register the dataset, fix the run's setup, and start it. */
  async submit(body: unknown): Promise<RunRecord> {
    let config: RunConfig;
    let secondOrder: SecondOrderConfig | null;
    try {
      // lbfgs and hessian_free: config.optimizer is a stand-in, the steps are SecondOrderStep's
      ({ config, secondOrder } = parseLocalRunConfig(body));
    } catch (err) {
      if (err instanceof RunConfigError)
        throw new BadRequestException({ message: 'invalid run config', problems: err.problems });
      throw err;
    }
    // before the dataset is read or anything is allocated (memory-budget.ts)
    const overBudget = memoryBudgetProblems(config, this.budgets);
    if (overBudget.length)
      throw new BadRequestException({ message: 'run exceeds the memory budget', problems: overBudget });
    const { dataset, registered } = await this.loadDataset(config);
    let setup: RunSetup;
    try {
      setup = setupRun(config, dataset);
    } catch (err) {
      if (err instanceof RunSetupError)
        throw new BadRequestException({ message: 'run config does not fit its dataset', problems: err.problems });
      throw err;
    }
    // register only a dataset the run fits: a refused request leaves no dataset behind
    const datasetId = registered ?? (await registerDataset(this.redis, this.keys.prefix, dataset)).id;
    const id = randomBytes(6).toString('hex');
    const record: RunRecord = {
      id,
      name: config.name,
      state: 'queued',
      createdAt: new Date().toISOString(),
      step: 0,
      totalSteps: setup.plan.totalSteps,
      epoch: 0,
      epochs: setup.plan.totalSteps / setup.plan.stepsPerEpoch,
      batchSize: config.batchSize,
      shards: config.shards,
      datasetId,
      paramCount: setup.paramCount,
      model: modelSummary(config.model),
      skippedSteps: 0,
    };
    await this.store.create(record, config, secondOrder);
    await this.publishManifest(id, datasetId, config, setup);
    this.start(record, config, setup, secondOrder);
    return record;
  }

  /** The run's dataset; `registered` is its id when it is in Redis already. */
  private async loadDataset(config: RunConfig): Promise<{ dataset: Dataset; registered?: string }> {
    try {
      if (config.dataset.id) {
        const dataset = await this.datasets.dataset(config.dataset.id);
        return { dataset, registered: config.dataset.id };
      }
      // 400 naming dataset.source.<field> before any file is opened for reading
      checkSourceAccess(config.dataset.source!, this.fileAccess);
      return { dataset: loadDataset(config.dataset.source!, this.fileAccess) };
    } catch (err) {
      if (err instanceof DataError || err instanceof SourceError) {
        throw new BadRequestException({ message: 'dataset refused', problems: [`dataset: ${err.message}`] });
      }
      if (err instanceof Error && /is not registered/.test(err.message)) {
        throw new BadRequestException({ message: 'dataset refused', problems: [`dataset.id: ${err.message}`] });
      }
      throw err;
    }
  }

  private async publishManifest(id: string, datasetId: string, config: RunConfig, setup: RunSetup): Promise<void> {
    const manifest: RunManifest = {
      runId: id,
      spec: config.model,
      datasetId,
      preprocessing: setup.preprocessing,
      seed: config.seed,
      batchSize: config.batchSize,
      shards: config.shards,
      paramCount: setup.paramCount,
      gradientTransfer: config.gradientTransfer,
      evalRowsPerShard: config.evaluation.rowsPerShard,
      splitRows: {
        train: setup.splits.train.length,
        validation: setup.splits.validation.length,
        test: setup.splits.test.length,
      },
    };
    const blob = (a: Uint32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    await this.redis
      .multi()
      .set(this.keys.runSplit(id, 'train'), blob(setup.splits.train))
      .set(this.keys.runSplit(id, 'validation'), blob(setup.splits.validation))
      .set(this.keys.runSplit(id, 'test'), blob(setup.splits.test))
      .set(this.keys.runManifest(id), JSON.stringify(manifest))
      .exec();
  }

  private start(record: RunRecord, config: RunConfig, setup: RunSetup, secondOrder: SecondOrderConfig | null): void {
    const driver = new RunDriver(
      {
        redis: this.redis,
        keys: this.keys,
        queue: this.queue,
        waiter: this.waiter,
        store: this.store,
        metrics: this.metrics,
        dataDir: this.config.NNQ_DATA_DIR,
        blobs: this.blobs,
        stragglerMs: this.config.NNQ_STRAGGLER_MS,
      },
      record,
      config,
      setup,
      secondOrder,
    );
    this.drivers.set(record.id, driver);
    this.failures.track(record.id, config, setup);
    const done = driver
      .run()
      .catch(async (err: Error) => {
        // run() ends every run itself; should it reject all the same, the run still ends as
        // failed and leaves no job looping
        this.logger.error(`run ${record.id} driver crashed: ${err.stack ?? err.message}`);
        const last = (await this.store.get(record.id).catch(() => null)) ?? record;
        const reason = `the run's driver crashed: ${err.message}`;
        const failed: RunRecord = {
          ...last,
          state: 'failed',
          finishedAt: new Date().toISOString(),
          error: { reason, step: last.step },
        };
        await this.end(failed);
        return failed;
      })
      .finally(() => {
        this.drivers.delete(record.id);
        this.failures.untrack(record.id);
      });
    this.finished.set(record.id, done);
  }

  /** Save a run's final record and delete what it left: keys and queued jobs (run-end.ts). */
  private end(record: RunRecord): Promise<void> {
    const { store, metrics, redis, queue } = this;
    return finishRun({ store, metrics, redis, queue }, record, [], this.logger);
  }

  /**
   * Runs left queued or running by a previous coordinator continue from their checkpoints; one
   * that ended but still has its manifest (a coordinator stopped between saving its end and
   * deleting its keys) has its keys and jobs cleared now, or its jobs would wait for it for ever.
   */
  private async resumeUnfinished(): Promise<void> {
    for (const record of await this.store.list(10_000)) {
      if (this.drivers.has(record.id)) continue;
      if (isTerminal(record.state)) {
        if (await this.redis.exists(this.keys.runManifest(record.id))) await this.end(record);
        continue;
      }
      try {
        const config = await this.store.config(record.id);
        if (!config) throw new Error('its config is missing');
        const dataset = await this.datasets.dataset(record.datasetId);
        const setup = setupRun(config, dataset);
        await this.publishManifest(record.id, record.datasetId, config, setup);
        this.logger.log(`resuming run ${record.id} (${record.name}) at step ${record.step}`);
        this.start(record, config, setup, await this.store.secondOrder(record.id));
      } catch (err) {
        const reason = `cannot resume: ${(err as Error).message}`;
        this.logger.error(`run ${record.id}: ${reason}`);
        await this.end({
          ...record,
          state: 'failed',
          finishedAt: new Date().toISOString(),
          error: { reason, step: record.step },
        });
      }
    }
  }

  async get(id: string): Promise<RunRecord> {
    const r = await this.store.get(id);
    if (!r) throw new NotFoundException(`no run with id ${JSON.stringify(id)}`);
    return r;
  }

  list(): Promise<RunRecord[]> {
    return this.store.list();
  }

  async history(id: string) {
    await this.get(id);
    return this.store.history(id);
  }

  async cancel(id: string): Promise<RunRecord> {
    const r = await this.get(id);
    if (isTerminal(r.state)) return r;
    const d = this.drivers.get(id);
    if (!d) {
      // no driver here (it ended without saving, or never started): end it all the same
      const cancelled: RunRecord = { ...r, state: 'cancelled', finishedAt: new Date().toISOString() };
      await this.end(cancelled);
      return cancelled;
    }
    d.cancel();
    return (await this.finished.get(id)) ?? (await this.get(id));
  }

  /** Resolves when the run has ended (tests, the CLI's local mode). */
  async settled(id: string): Promise<RunRecord> {
    return (await this.finished.get(id)) ?? this.get(id);
  }
}

import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { METRICS_REGISTRY, REDIS } from '@nnq/cluster';
import { SHARD_QUEUE } from '@nnq/protocol';
import type { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Counter, Gauge, type Registry } from 'prom-client';
import { RunStore } from '../runs/run-store.service';
import { ShardEvents } from '../shard-events.service';
import { WorkersService } from '../workers/workers.service';

/** Job states reported by nnq_queue_jobs, each initialised to zero. */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'] as const;

/** A scrape must not hang on a dead Redis: every read at scrape time gives up after this. */
export const SCRAPE_TIMEOUT_MS = 1000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Whether a job seen in a 'failed' or 'delayed' event is being retried: it has had at least one
 * attempt, has attempts left and is not in the failed set. (BullMQ 6 reports a failed attempt
 * with backoff as 'delayed', and only the last one as 'failed'.) The state is read when the event
 * is, up to EVENT_READ_GAP_MS after it: shard jobs back off 500 ms at least, so their retry has
 * not failed for good by then.
 */
export function isRetry(job: Pick<Job, 'attemptsMade' | 'opts'>, state: string): boolean {
  const attempts = job.opts.attempts ?? 1;
  return state !== 'failed' && job.attemptsMade > 0 && job.attemptsMade < attempts;
}

/**
 * Queue and cluster health of the coordinator: queue depth by state, live workers, running runs
 * and Redis reachability, read at scrape time in collect(); stalled and retried shard jobs counted
 * from BullMQ's queue events.
 */
@Injectable()
export class QueueMetrics implements OnApplicationBootstrap {
  private readonly logger = new Logger(QueueMetrics.name);
  private readonly stalled: Counter;
  private readonly retried: Counter;

  constructor(
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(REDIS) private readonly redis: Redis,
    @InjectQueue(SHARD_QUEUE) private readonly queue: Queue,
    private readonly workers: WorkersService,
    private readonly runs: RunStore,
    private readonly shardEvents: ShardEvents,
  ) {
    const registers = [registry];
    const jobs: Gauge<'state'> = new Gauge({
      name: 'nnq_queue_jobs',
      help: 'Shard jobs in the BullMQ queue by state, read at scrape time.',
      labelNames: ['state'],
      registers,
      collect: () => this.collectQueue(jobs),
    });
    for (const state of QUEUE_STATES) jobs.set({ state }, 0);
    const live: Gauge = new Gauge({
      name: 'nnq_workers_live',
      help: 'Workers whose heartbeat key is present, read at scrape time.',
      registers,
      collect: () => this.collectWorkers(live),
    });
    const running: Gauge<'run'> = new Gauge({
      name: 'nnq_run_running',
      help: '1 for each run in state running (among the newest 200); a series exists only while its run runs.',
      labelNames: ['run'],
      registers,
      collect: () => this.collectRunning(running),
    });
    const up: Gauge = new Gauge({
      name: 'nnq_redis_up',
      help: '1 when Redis answered PING at scrape time, else 0.',
      registers,
      collect: async () => up.set(await this.redisUp()),
    });
    this.stalled = new Counter({
      name: 'nnq_jobs_stalled_total',
      help: 'Shard jobs BullMQ found stalled (lock lost, moved back to wait or failed).',
      registers,
    });
    this.retried = new Counter({
      name: 'nnq_jobs_retried_total',
      help: 'Failed shard job attempts that were put back on the queue for another attempt.',
      registers,
    });
  }

  private async collectQueue(gauge: Gauge<'state'>): Promise<void> {
    try {
      const counts = await withTimeout(this.queue.getJobCounts(...QUEUE_STATES), SCRAPE_TIMEOUT_MS, 'getJobCounts');
      for (const state of QUEUE_STATES) gauge.set({ state }, counts[state] ?? 0);
    } catch (err) {
      // keep the last values; nnq_redis_up tells the scrape that Redis is gone
      this.logger.debug(`queue counts: ${(err as Error).message}`);
    }
  }

  private async collectWorkers(gauge: Gauge): Promise<void> {
    try {
      gauge.set((await withTimeout(this.workers.list(), SCRAPE_TIMEOUT_MS, 'workers')).length);
    } catch (err) {
      this.logger.debug(`live workers: ${(err as Error).message}`);
    }
  }

  private async collectRunning(gauge: Gauge<'run'>): Promise<void> {
    try {
      const running = (await withTimeout(this.runs.list(), SCRAPE_TIMEOUT_MS, 'runs')).filter(
        (r) => r.state === 'running',
      );
      gauge.reset();
      for (const r of running) gauge.set({ run: r.id }, 1);
    } catch (err) {
      this.logger.debug(`running runs: ${(err as Error).message}`);
    }
  }

  private async redisUp(): Promise<number> {
    if (this.redis.status !== 'ready') return 0;
    try {
      return (await withTimeout(this.redis.ping(), SCRAPE_TIMEOUT_MS, 'PING')) === 'PONG' ? 1 : 0;
    } catch {
      return 0;
    }
  }

  onApplicationBootstrap(): void {
    const events = this.shardEvents.events;
    events.on('stalled', () => this.stalled.inc());
    events.on('failed', ({ jobId }) => void this.countIfRetry(jobId));
    events.on('delayed', ({ jobId }) => void this.countIfRetry(jobId));
  }

  private async countIfRetry(jobId: string): Promise<void> {
    try {
      const job = await this.queue.getJob(jobId);
      if (!job) return;
      const state = await this.queue.getJobState(jobId);
      if (isRetry(job as Job, state)) this.retried.inc();
    } catch (err) {
      this.logger.debug(`job ${jobId}: ${(err as Error).message}`);
    }
  }
}

import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger, type MessageEvent, type OnModuleDestroy } from '@nestjs/common';
import { KEYS, REDIS } from '@nnq/cluster';
import { SHARD_QUEUE, type KeySchema, type WorkerInfo } from '@nnq/protocol';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Observable, Subject, type Subscription } from 'rxjs';
import { QUEUE_STATES } from '../metrics/queue.metrics';
import type { Evaluation, FitCurve, HistoryEntry, RunRecord } from '@nnq/protocol';
import { RunStore } from '../runs/run-store.service';
import { WorkersService } from '../workers/workers.service';

/** How often the feed reads Redis while at least one dashboard is connected. */
export const POLL_MS = 500;
/** Runs listed on the dashboard, newest first (the page folds finished ones and filters them). */
export const RUN_LIMIT = 1000;
/** Runs whose history (the curves) the feed keeps and streams: the newest ones. */
export const HISTORY_RUNS = 20;

/** A run's curves on the wire: [step, loss, accuracy] per step, and the evaluations. */
export interface HistoryChunk {
  id: string;
  /** The client drops what it holds for this run first (a snapshot, or a history rewritten by a resume). */
  reset: boolean;
  steps: Array<[number, number, number]>;
  /** The first evaluation of a step carries evaluation.curvature's numbers when the run has it. */
  evals: Array<Pick<Evaluation, 'split' | 'step' | 'loss' | 'accuracy' | 'hessianTopEigenvalue' | 'hessianTrace'>>;
  /** A 1-D regression's prediction against its target at the newest evaluation of the chunk. */
  curve?: FitCurve & { step: number };
}

export type QueueCounts = Record<string, number>;

export interface Snapshot {
  runs: RunRecord[];
  histories: HistoryChunk[];
  workers: WorkerInfo[];
  queue: QueueCounts;
}

/** Events of GET /events; the `type` is the SSE event name. */
export type FeedEvent =
  | { type: 'snapshot'; data: Snapshot }
  | { type: 'runs'; data: { changed: RunRecord[]; removed: string[] } }
  | { type: 'history'; data: HistoryChunk }
  | { type: 'workers'; data: WorkerInfo[] }
  | { type: 'queue'; data: QueueCounts };

interface HistoryMirror {
  /** Entries read from the Redis list so far. */
  length: number;
  lastStep: number;
  chunk: HistoryChunk;
}

/** Split raw history entries into the chart's step tuples and evaluations. */
export function toChunk(id: string, entries: HistoryEntry[], reset: boolean): HistoryChunk {
  const chunk: HistoryChunk = { id, reset, steps: [], evals: [] };
  for (const e of entries) {
    if (e.type === 'step') {
      if (!e.skipped) chunk.steps.push([e.step, e.loss, e.accuracy]);
    } else {
      const { split, step, loss, accuracy, hessianTopEigenvalue, hessianTrace } = e;
      // evaluation.curvature's numbers ride along when the entry has them
      const curvature = hessianTopEigenvalue === undefined ? {} : { hessianTopEigenvalue, hessianTrace };
      chunk.evals.push({ split, step, loss, accuracy, ...curvature });
      if (e.curve) chunk.curve = { step: e.step, ...e.curve };
    }
  }
  return chunk;
}

/**
 * The dashboard's live feed. While a client is connected it polls Redis every POLL_MS, keeps a
 * mirror of what the page shows (runs, the newest runs' histories, workers, queue depth) and
 * pushes the differences; a client that connects gets the mirror first, then the differences,
 * so a late page still draws the whole curve. One poller serves every client.
 */
@Injectable()
export class DashboardFeed implements OnModuleDestroy {
  private readonly logger = new Logger(DashboardFeed.name);
  private readonly changes = new Subject<FeedEvent>();
  private clients = 0;
  private running = false;
  private timer?: NodeJS.Timeout;
  private polled?: Promise<void>;
  private markPolled?: () => void;
  private failing = false;
  private runs = new Map<string, { json: string; record: RunRecord }>();
  private order: string[] = [];
  private histories = new Map<string, HistoryMirror>();
  private workersJson = '';
  private workers: WorkerInfo[] = [];
  private queueJson = '';
  private queueCounts: QueueCounts = {};
  /** The snapshot event of the last poll: one object for every client that connects until the next. */
  private snapshotEvent?: MessageEvent;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(KEYS) private readonly keys: KeySchema,
    @InjectQueue(SHARD_QUEUE) private readonly queue: Queue,
    private readonly store: RunStore,
    private readonly workersService: WorkersService,
  ) {}

  /** The SSE stream of one client: a snapshot, then the changes. */
  stream(): Observable<MessageEvent> {
    return new Observable<MessageEvent>((subscriber) => {
      let inner: Subscription | undefined;
      let closed = false;
      this.clients++;
      this.start();
      void this.polled!.then(() => {
        if (closed) return;
        // snapshot and subscription in one tick: no change falls between them
        // (the same event object for every client of this poll: encoded once, see event-stream.ts)
        this.snapshotEvent ??= { type: 'snapshot', data: this.snapshot(), retry: 2000 };
        subscriber.next(this.snapshotEvent);
        inner = this.changes.subscribe(subscriber);
      });
      return () => {
        closed = true;
        inner?.unsubscribe();
        this.clients--;
      };
    });
  }

  snapshot(): Snapshot {
    return {
      runs: this.order.map((id) => this.runs.get(id)!.record),
      histories: [...this.histories.values()].map((h) => ({ ...h.chunk, reset: true })),
      workers: this.workers,
      queue: this.queueCounts,
    };
  }

  private start(): void {
    if (this.running) return;
    this.running = true;
    this.polled = new Promise((r) => (this.markPolled = r));
    const loop = async () => {
      await this.poll();
      if (this.clients > 0) {
        this.timer = setTimeout(() => void loop(), POLL_MS);
        return;
      }
      // nobody watches: stop, and forget the mirror (the next client starts from Redis)
      this.running = false;
      this.runs.clear();
      this.order = [];
      this.histories.clear();
      this.workersJson = this.queueJson = '';
    };
    void loop();
  }

  /** One read of Redis; emits what changed since the last one. */
  async poll(): Promise<void> {
    try {
      await this.pollRuns();
      await this.pollHistories();
      await this.pollWorkers();
      await this.pollQueue();
      this.snapshotEvent = undefined;
      if (this.failing) this.logger.log('dashboard feed: Redis answers again');
      this.failing = false;
      this.markPolled?.();
    } catch (err) {
      // keep what the clients have; say so once, not every POLL_MS
      if (!this.failing) this.logger.warn(`dashboard feed: ${(err as Error).message}`);
      this.failing = true;
    }
  }

  private async pollRuns(): Promise<void> {
    const records = await this.store.list(RUN_LIMIT);
    const changed: RunRecord[] = [];
    const seen = new Set<string>();
    for (const record of records) {
      seen.add(record.id);
      const json = JSON.stringify(record);
      if (this.runs.get(record.id)?.json !== json) {
        this.runs.set(record.id, { json, record });
        changed.push(record);
      }
    }
    const removed = this.order.filter((id) => !seen.has(id));
    for (const id of removed) this.runs.delete(id);
    this.order = records.map((r) => r.id);
    if (changed.length || removed.length) this.emit({ type: 'runs', data: { changed, removed } });
  }

  private async pollHistories(): Promise<void> {
    const tracked = this.order.slice(0, HISTORY_RUNS);
    for (const id of [...this.histories.keys()]) if (!tracked.includes(id)) this.histories.delete(id);
    if (!tracked.length) return;
    // one LLEN per run, not a pipeline: runs hash to different slots under Redis Cluster
    const lengths = await Promise.all(tracked.map((id) => this.redis.llen(this.keys.runHistory(id)).catch(() => -1)));
    for (const [i, id] of tracked.entries()) {
      const length = lengths[i];
      const known = this.histories.get(id);
      if (length < 0 || length === (known?.length ?? 0)) continue;
      if (known && length > known.length) {
        const fresh = await this.range(id, known.length);
        const chunk = toChunk(id, fresh, false);
        // a resumed run rewrites its history: a step at or before the last one means start over
        if (!chunk.steps.length || chunk.steps[0][0] > known.lastStep) {
          known.length += fresh.length;
          known.lastStep = chunk.steps.at(-1)?.[0] ?? known.lastStep;
          known.chunk.steps.push(...chunk.steps);
          known.chunk.evals.push(...chunk.evals);
          if (chunk.curve) known.chunk.curve = chunk.curve;
          this.emit({ type: 'history', data: chunk });
          continue;
        }
      }
      const all = await this.range(id, 0);
      const chunk = toChunk(id, all, true);
      this.histories.set(id, { length: all.length, lastStep: chunk.steps.at(-1)?.[0] ?? 0, chunk });
      this.emit({ type: 'history', data: { ...chunk, steps: [...chunk.steps], evals: [...chunk.evals] } });
    }
  }

  private async range(id: string, from: number): Promise<HistoryEntry[]> {
    const raws = await this.redis.lrange(this.keys.runHistory(id), from, -1);
    return raws.map((r) => JSON.parse(r) as HistoryEntry);
  }

  private async pollWorkers(): Promise<void> {
    const workers = await this.workersService.list();
    const json = JSON.stringify(workers);
    if (json === this.workersJson) return;
    this.workersJson = json;
    this.workers = workers;
    this.emit({ type: 'workers', data: workers });
  }

  private async pollQueue(): Promise<void> {
    const counts = await this.queue.getJobCounts(...QUEUE_STATES);
    const json = JSON.stringify(counts);
    if (json === this.queueJson) return;
    this.queueJson = json;
    this.queueCounts = counts;
    this.emit({ type: 'queue', data: counts });
  }

  private emit(event: FeedEvent): void {
    this.changes.next(event);
  }

  /** End every open stream so the HTTP server can close. */
  onModuleDestroy(): void {
    this.clients = 0;
    clearTimeout(this.timer);
    this.changes.complete();
  }
}

import { InjectQueue } from '@nestjs/bullmq';
import {
  ConflictException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { NNQ_CONFIG, REDIS, type NnqConfig } from '@nnq/cluster';
import { SHARD_QUEUE } from '@nnq/protocol';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { rmSync } from 'node:fs';
import { runDir } from './run-files';
import { removeRunJobs } from './run-jobs';
import { isTerminal } from '@nnq/protocol';
import { RunStore } from './run-store.service';

/** How often finished runs past their retention are looked for (besides at boot). */
const RETENTION_CHECK_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Removes finished runs and everything they stored: record, config, history, any key left in
 * Redis, jobs in the queue, and the model and checkpoint files. On request (DELETE /runs/:id,
 * `nnq rm`), and by retention: finished runs older than NNQ_RUN_RETENTION_DAYS (0 keeps them),
 * checked at boot and hourly. A run still queued or running is never removed.
 */
@Injectable()
export class RunRemoval implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RunRemoval.name);
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(NNQ_CONFIG) private readonly config: NnqConfig,
    @InjectQueue(SHARD_QUEUE) private readonly queue: Queue,
    private readonly store: RunStore,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.NNQ_RUN_RETENTION_DAYS === 0) return;
    const check = () =>
      void this.removeExpired().catch((err: Error) => this.logger.warn(`retention check failed: ${err.message}`));
    check();
    this.timer = setInterval(check, RETENTION_CHECK_MS).unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Remove a finished run; 404 for an unknown one, 409 for one still queued or running. */
  async remove(id: string): Promise<void> {
    const run = await this.store.get(id);
    if (!run) throw new NotFoundException(`no run with id ${JSON.stringify(id)}`);
    if (!isTerminal(run.state)) {
      throw new ConflictException(
        `run ${id} is ${run.state}: cancel it first (POST /runs/${id}/cancel), then remove it`,
      );
    }
    await this.purge(id);
    this.logger.log(`run ${id} (${run.name}) removed`);
  }

  /**
   * Remove finished runs whose end (or, without one, creation) is more than the retention before
   * `now`; returns their ids. Only runs created before the cutoff can qualify, so only those are read.
   */
  async removeExpired(now = Date.now()): Promise<string[]> {
    const days = this.config.NNQ_RUN_RETENTION_DAYS;
    if (days === 0) return [];
    const cutoff = now - days * DAY_MS;
    const removed: string[] = [];
    for (const id of await this.store.createdBefore(cutoff)) {
      const run = await this.store.get(id);
      if (run && !isTerminal(run.state)) continue;
      if (run && Date.parse(run.finishedAt ?? run.createdAt) >= cutoff) continue;
      await this.purge(id);
      removed.push(id);
    }
    if (removed.length)
      this.logger.log(
        `retention (${days} days): removed ${removed.length} finished run${removed.length === 1 ? '' : 's'}`,
      );
    return removed;
  }

  /** Jobs first (none should be left), then the keys, then the files. */
  private async purge(id: string): Promise<void> {
    await removeRunJobs(this.redis, this.queue, id);
    await this.store.remove(id);
    rmSync(runDir(this.config.NNQ_DATA_DIR, id), { recursive: true, force: true });
  }
}

import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { KEYS, NNQ_CONFIG, REDIS, type NnqConfig } from '@nnq/cluster';
import type { KeySchema, WorkerInfo } from '@nnq/protocol';
import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { WORKER_IDENTITY, type WorkerIdentity } from './worker-identity';
import { PrefetchPolicy } from './shards/prefetch';

/**
 * Announces this worker through Redis: a key holding WorkerInfo with a TTL, refreshed every
 * TTL/3. A worker that dies stops refreshing and its key expires: that is how it leaves.
 */
@Injectable()
export class HeartbeatService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(HeartbeatService.name);
  private timer?: NodeJS.Timeout;
  private readonly startedAt = new Date().toISOString();
  /** Set by main.ts once the HTTP server listens. */
  port = 0;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(KEYS) private readonly keys: KeySchema,
    @Inject(NNQ_CONFIG) private readonly config: NnqConfig,
    @Inject(WORKER_IDENTITY) private readonly identity: WorkerIdentity,
    private readonly prefetch: PrefetchPolicy,
  ) {}

  info(): WorkerInfo {
    return {
      id: this.identity.id,
      host: hostname(),
      pid: process.pid,
      concurrency: this.config.NNQ_WORKER_CONCURRENCY,
      version: this.identity.version,
      port: this.port,
      engine: this.identity.engine(),
      startedAt: this.startedAt,
      lastSeen: new Date().toISOString(),
    };
  }

  async beat(): Promise<void> {
    const ttl = this.config.NNQ_HEARTBEAT_TTL_MS;
    await this.redis
      .multi()
      .sadd(this.keys.workers(), this.identity.id)
      .set(this.keys.worker(this.identity.id), JSON.stringify(this.info()), 'PX', ttl)
      .exec();
    await this.countLive();
  }

  /** Registry entries outlive their heartbeat key: count those whose key still exists. */
  private async countLive(): Promise<void> {
    const ids = await this.redis.smembers(this.keys.workers());
    if (ids.length) this.prefetch.liveWorkers(await this.redis.exists(...ids.map((id) => this.keys.worker(id))));
  }

  async onApplicationBootstrap(): Promise<void> {
    // a run not seen before asks for a count at once, not at the next beat
    this.prefetch.recount = () =>
      void this.countLive().catch((err: Error) => this.logger.warn(`counting workers failed: ${err.message}`));
    await this.beat();
    this.timer = setInterval(
      () => void this.beat().catch((err: Error) => this.logger.warn(`heartbeat failed: ${err.message}`)),
      Math.max(100, Math.floor(this.config.NNQ_HEARTBEAT_TTL_MS / 3)),
    );
    this.logger.log(`worker ${this.identity.id} announced (ttl ${this.config.NNQ_HEARTBEAT_TTL_MS} ms)`);
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    // leave at once rather than after the TTL
    await this.redis
      .multi()
      .del(this.keys.worker(this.identity.id))
      .srem(this.keys.workers(), this.identity.id)
      .exec()
      .catch(() => undefined);
    this.logger.log(`worker ${this.identity.id} left`);
  }
}

export function newWorkerId(): string {
  return `${hostname()
    .replace(/[^A-Za-z0-9_-]/g, '_')
    .slice(0, 32)}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

import { Inject, Injectable } from '@nestjs/common';
import { KEYS, REDIS } from '@nnq/cluster';
import type { KeySchema } from '@nnq/protocol';
import type { Redis } from 'ioredis';
import type { SweepRecord } from '@nnq/protocol';

/** Sweeps in Redis under the deployment prefix: the state a restarted coordinator continues from. */
@Injectable()
export class SweepStore {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(KEYS) private readonly keys: KeySchema,
  ) {}

  async create(record: SweepRecord): Promise<void> {
    await this.save(record);
    await this.redis.zadd(this.keys.sweeps(), Date.parse(record.createdAt), record.id);
  }

  async save(record: SweepRecord): Promise<void> {
    await this.redis.set(this.keys.sweepState(record.id), JSON.stringify(record));
  }

  async get(id: string): Promise<SweepRecord | null> {
    const raw = await this.redis.get(this.keys.sweepState(id));
    return raw ? (JSON.parse(raw) as SweepRecord) : null;
  }

  /** Newest first. */
  async list(limit = 200): Promise<SweepRecord[]> {
    const ids = await this.redis.zrevrange(this.keys.sweeps(), 0, limit - 1);
    if (!ids.length) return [];
    const raws = await this.redis.mget(ids.map((id) => this.keys.sweepState(id)));
    return raws.filter((r): r is string => !!r).map((r) => JSON.parse(r) as SweepRecord);
  }
}

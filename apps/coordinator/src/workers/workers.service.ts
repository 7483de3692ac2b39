import { Inject, Injectable } from '@nestjs/common';
import { KEYS, REDIS } from '@nnq/cluster';
import { WorkerInfoSchema, type KeySchema, type WorkerInfo } from '@nnq/protocol';
import type { Redis } from 'ioredis';

/** Live workers, as announced by their heartbeat keys; ids whose key expired are pruned. */
@Injectable()
export class WorkersService {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(KEYS) private readonly keys: KeySchema,
  ) {}

  async list(): Promise<WorkerInfo[]> {
    const ids = (await this.redis.smembers(this.keys.workers())).sort();
    if (ids.length === 0) return [];
    const values = await this.redis.mget(ids.map((id) => this.keys.worker(id)));
    const live: WorkerInfo[] = [];
    const gone: string[] = [];
    values.forEach((raw, i) => {
      const parsed = raw ? WorkerInfoSchema.safeParse(safeJson(raw)) : null;
      if (parsed?.success) live.push(parsed.data);
      else gone.push(ids[i]);
    });
    if (gone.length) await this.redis.srem(this.keys.workers(), ...gone);
    return live;
  }
}

function safeJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return null;
  }
}

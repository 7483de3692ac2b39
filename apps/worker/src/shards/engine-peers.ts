import { WorkerInfoSchema, type KeySchema } from '@nnq/protocol';
import type { Redis } from 'ioredis';
import { engineTag } from './engine-tag';

/**
 * Whether a live worker (its heartbeat key present) computes with `runEngine`: then a job this
 * worker refuses will be computed by that one once it is free, and is not failed for good.
 * Heartbeats name the engine kind ('onnx', 'reference'); its tag is taken with this worker's
 * versions, as a worker of other versions would be refused anyway.
 */
export async function liveWorkerComputes(redis: Redis, keys: KeySchema, runEngine: string): Promise<boolean> {
  const ids = await redis.smembers(keys.workers());
  if (ids.length === 0) return false;
  const beats = await redis.mget(ids.map((id) => keys.worker(id)));
  return beats.some((raw) => {
    if (!raw) return false;
    try {
      const info = WorkerInfoSchema.safeParse(JSON.parse(raw));
      return info.success && engineTag(info.data.engine) === runEngine;
    } catch {
      return false;
    }
  });
}

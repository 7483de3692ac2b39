import type { Redis } from 'ioredis';
import { setOnce, type FramedValue } from './framed-value';

/**
 * Write a shard result once, and only while its run is live; announce it (and publish `also`,
 * when given). Sent back to back, answered in one round trip, run by Redis in this order:
 *   SET result value PX ttl NX;  EXISTS manifest;  PUBLISH channel result  [; PUBLISH also]
 * The result key and the run's manifest key share the {run:<id>} hash slot. A result written at
 * an instant its run was already gone (finished or cancelled) is deleted again at once: a job
 * still computing when its run ends must not leave a result behind (and if the worker dies in
 * between, the TTL ends it). A run removed between the SET and the EXISTS is found gone the same
 * way. The notice goes out either way; it only wakes a waiter, which reads the keys themselves.
 *
 * Not a MULTI, nor a Lua script: ioredis copies a MULTI's commands into one buffer (a FramedValue
 * is sent as encoded, framed in place: framed-value.ts), and Redis copies a script's arguments
 * into Lua and back out (~1.7 ms of its single thread for a ~1 MB gradient).
 *
 * Returns 1 written, 0 already there, -1 the run is gone.
 */
export async function setResult(
  redis: Redis,
  result: string,
  manifest: string,
  value: Buffer | string | FramedValue,
  ttlMs: number,
  channel: string,
  also?: { channel: string; message: string },
): Promise<number> {
  const [set, live] = await Promise.all([
    setOnce(redis, result, value, ttlMs),
    redis.exists(manifest),
    redis.publish(channel, result),
    also && redis.publish(also.channel, also.message),
  ]);
  const written = set === 'OK';
  if (live === 0) {
    if (written) await redis.del(result);
    return -1;
  }
  return written ? 1 : 0;
}

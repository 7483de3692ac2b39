import type { Redis } from 'ioredis';

/**
 * Write a shard result once, and only while its run is live; announce it (and publish `also`,
 * when given, in the same round trip). One MULTI:
 *   SET result value PX ttl NX;  EXISTS manifest;  PUBLISH channel result  [; PUBLISH also]
 * The result key and the run's manifest key share the {run:<id>} hash slot. A result written at
 * an instant its run was already gone (finished or cancelled) is deleted again at once: a job
 * still computing when its run ends must not leave a result behind (and if the worker dies in
 * between, the TTL ends it). The notice goes out either way; it only wakes a waiter, which reads
 * the keys themselves.
 *
 * Not a Lua script: Redis copies a script's arguments into Lua and back out, and for a gradient of
 * ~1 MB that took ~1.7 ms of Redis's single thread per call (a plain SET: a few microseconds), so
 * the shards of a step queued behind one another there.
 *
 * Returns 1 written, 0 already there, -1 the run is gone.
 */
export async function setResult(
  redis: Redis,
  result: string,
  manifest: string,
  value: Buffer | string,
  ttlMs: number,
  channel: string,
  also?: { channel: string; message: string },
): Promise<number> {
  const multi = redis.multi().set(result, value, 'PX', ttlMs, 'NX').exists(manifest).publish(channel, result);
  if (also) multi.publish(also.channel, also.message);
  const replies = await multi.exec();
  if (!replies) throw new Error(`writing ${result}: the transaction was aborted`);
  for (const [err] of replies) if (err) throw err;
  const written = replies[0][1] === 'OK';
  if (replies[1][1] === 0) {
    if (written) await redis.del(result);
    return -1;
  }
  return written ? 1 : 0;
}

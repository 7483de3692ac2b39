import type { Redis } from 'ioredis';

/**
 * set-result-2: write a shard result once, and only while its run is live.
 *   KEYS[1] result key, KEYS[2] the run's manifest key (same {run:<id>} hash slot)
 *   ARGV[1] value, ARGV[2] TTL in ms
 *   returns 1 written, 0 already there, -1 the run is gone (finished or cancelled)
 * A job still computing when its run ends must not leave a result behind.
 */
const SCRIPT = `
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 1 end
return 0`;

type WithSetResult = Redis & {
  nnqSetResult(result: string, manifest: string, value: Buffer | string, ttlMs: number): Promise<number>;
};

export async function setResult(
  redis: Redis,
  result: string,
  manifest: string,
  value: Buffer | string,
  ttlMs: number,
): Promise<number> {
  const r = redis as WithSetResult;
  if (typeof r.nnqSetResult !== 'function') redis.defineCommand('nnqSetResult', { numberOfKeys: 2, lua: SCRIPT });
  return r.nnqSetResult(result, manifest, value, ttlMs);
}

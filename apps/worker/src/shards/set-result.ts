import type { Redis } from 'ioredis';

/**
 * set-result-3: write a shard result once, and only while its run is live; announce it.
 *   KEYS[1] result key, KEYS[2] the run's manifest key (same {run:<id>} hash slot)
 *   ARGV[1] value, ARGV[2] TTL in ms, ARGV[3] the results channel (the key is published there)
 *   returns 1 written, 0 already there, -1 the run is gone (finished or cancelled)
 * A job still computing when its run ends must not leave a result behind.
 */
const SCRIPT = `
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then
  redis.call('PUBLISH', ARGV[3], KEYS[1])
  return 1
end
return 0`;

type WithSetResult = Redis & {
  nnqSetResult(
    result: string,
    manifest: string,
    value: Buffer | string,
    ttlMs: number,
    channel: string,
  ): Promise<number>;
};

export async function setResult(
  redis: Redis,
  result: string,
  manifest: string,
  value: Buffer | string,
  ttlMs: number,
  channel: string,
): Promise<number> {
  const r = redis as WithSetResult;
  if (typeof r.nnqSetResult !== 'function') redis.defineCommand('nnqSetResult', { numberOfKeys: 2, lua: SCRIPT });
  return r.nnqSetResult(result, manifest, value, ttlMs, channel);
}

import { Redis } from 'ioredis';

/**
 * Deletes every key under `prefix:` (a test's own key prefix: BullMQ's queues and nnq's keys).
 * SCAN, not KEYS: the server stays responsive however many keys other suites keep.
 */
export async function deletePrefix(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    await deleteKeys(redis, `${prefix}:*`);
  } finally {
    redis.disconnect();
  }
}

/** Deletes the keys matching `pattern` on an open connection; resolves with how many there were. */
export async function deleteKeys(redis: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    if (keys.length) n += await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  return n;
}

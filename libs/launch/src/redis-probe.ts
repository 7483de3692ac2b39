import { redisOptions } from '@nnq/config';
import { Redis } from 'ioredis';

/** True when a Redis at `url` answers PING within `timeoutMs`; never retries, never throws. */
export async function redisReachable(url: string, timeoutMs = 1500): Promise<boolean> {
  let client: Redis | undefined;
  try {
    client = new Redis({
      ...redisOptions(url),
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      connectTimeout: timeoutMs,
    });
    client.on('error', () => undefined);
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client?.disconnect();
  }
}

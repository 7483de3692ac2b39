import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startRedisServer, type ThrowawayRedis } from '@nnq/launch';
import { startApp, stopApp } from '../support/processes';

// Issue #24: `nnq up` redacted the Redis password in its first line but printed it in its banner.
describe('nnq up prints no Redis password', () => {
  const secret = 'banner-secret-pw-4711';
  let redis: ThrowawayRedis;

  beforeAll(async () => {
    redis = await startRedisServer(['--requirepass', secret]);
  });
  afterAll(async () => redis?.stop());

  it('shows the Redis URL with *** in every line, its children included', async () => {
    const url = `redis://:${secret}@127.0.0.1:${redis.port}`;
    const port = String(await freePort());
    const p = startApp('cli', { REDIS_URL: url, NNQ_PORT: port }, ['up', '--workers', '1']);
    try {
      await p.waitFor(/local cluster is up \(1 workers?\)/, 60_000);
      expect(p.output()).toMatch(/using Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+/);
      expect(p.output()).toMatch(/^ {2}redis {8}redis:\/\/:\*\*\*@127\.0\.0\.1:\d+/m);
    } finally {
      expect(await stopApp(p, 30_000)).toBe(0);
    }
    expect(p.output()).not.toContain(secret);
  });
});

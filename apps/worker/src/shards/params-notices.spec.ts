import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ParamsNotices } from './params-notices';

/** A subscriber connection the test publishes on. */
function channel() {
  const handlers: ((channel: string, message: string) => void)[] = [];
  const redis = {
    duplicate: () => ({
      on: (event: string, fn: (channel: string, message: string) => void) => event === 'message' && handlers.push(fn),
      subscribe: async () => 1,
      quit: async () => 'OK',
    }),
  } as unknown as Redis;
  return { redis, publish: (message: string) => handlers.forEach((h) => h('params', message)) };
}

/** 'woke' when `wait` resolves within 1 s (the waits below poll every 60 s), else 'waiting'. */
const outcome = (wait: Promise<void>, ms = 1_000) =>
  Promise.race([wait.then(() => 'woke'), new Promise((r) => setTimeout(() => r('waiting'), ms))]);

// the wake-up itself (marks, the race, polls) is tested once, in libs/protocol's notice-board.spec.ts
describe('ParamsNotices', () => {
  it('waits for the notice <runId>:<version>, one after the mark included', async () => {
    const { redis, publish } = channel();
    const notices = new ParamsNotices(redis, 'params');
    await notices.next('r1', 1, 10); // subscribes
    const since = notices.mark();
    publish('r1:5'); // handled before the worker begins to wait
    expect(await outcome(notices.next('r1', 5, 60_000, since))).toBe('woke');
    const wait = notices.next('r1', 6, 60_000);
    publish('r1:60');
    publish('r2:6');
    expect(await outcome(wait, 50)).toBe('waiting');
    publish('r1:6');
    expect(await outcome(wait)).toBe('woke');
    await notices.close();
  });
});

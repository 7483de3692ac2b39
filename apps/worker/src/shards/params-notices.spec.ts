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

/** 'woke' when `wait` resolves within 1 s (the waits below poll every 60 s), else 'slept'. */
const outcome = (wait: Promise<void>) =>
  Promise.race([wait.then(() => 'woke'), new Promise((r) => setTimeout(() => r('slept'), 1_000))]);

describe('ParamsNotices', () => {
  it('wakes a waiter on its notice', async () => {
    const { redis, publish } = channel();
    const notices = new ParamsNotices(redis, 'params');
    await notices.next('r1', 1, 10); // subscribes
    const wait = notices.next('r1', 5, 60_000);
    await new Promise((r) => setTimeout(r, 5));
    publish('r1:4');
    publish('r1:5');
    expect(await outcome(wait)).toBe('woke');
    await notices.close();
  });

  it('ends a wait at once when its notice came after the mark, before the wait began', async () => {
    const { redis, publish } = channel();
    const notices = new ParamsNotices(redis, 'params');
    await notices.next('r1', 1, 10);
    const since = notices.mark();
    // the worker reads the key and the version; the notice is handled before it waits
    publish('r1:5');
    expect(await outcome(notices.next('r1', 5, 60_000, since))).toBe('woke');
    await notices.close();
  });

  it('does not count a notice that came before the mark, nor one of another version or run', async () => {
    const { redis, publish } = channel();
    const notices = new ParamsNotices(redis, 'params');
    await notices.next('r1', 1, 10);
    publish('r1:5');
    const since = notices.mark();
    publish('r1:6');
    publish('r2:5');
    const wait = notices.next('r1', 5, 60_000, since);
    expect(await Promise.race([wait.then(() => 'woke'), new Promise((r) => setTimeout(() => r('waiting'), 50))])).toBe(
      'waiting',
    );
    publish('r1:5'); // published again (a resumed run): wakes it
    expect(await outcome(wait)).toBe('woke');
    await notices.close();
  });
});

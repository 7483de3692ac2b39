import { EventEmitter } from 'node:events';
import type { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ShardWaiter } from './shard-waiter';

/** A waiter that only polls (every 5 ms): no Redis, queue or events are touched on the take path. */
const waiter = () => new ShardWaiter({} as Redis, {} as Queue, new EventEmitter() as unknown as QueueEvents, 5);

describe('ShardWaiter take', () => {
  it('hands results over in index order, whatever order they land in, reading each result once', async () => {
    const store = new Map<number, string>();
    const found: number[] = [];
    let reads = 0;
    const used: Array<[number, string]> = [];
    const done = waiter().waitFor(['k0', 'k1', 'k2', 'k3', 'k4', 'k5'], [], undefined, undefined, {
      read: async (i) => {
        reads++;
        if (store.has(i)) found.push(i);
        return store.get(i) ?? null;
      },
      use: (i, v) => used.push([i, v]),
    });
    // shards land out of order: 2 and 5 first, then 0 (handed over alone: 1 is still missing)
    store.set(2, 'c').set(5, 'f');
    await new Promise((r) => setTimeout(r, 20));
    store.set(0, 'a');
    await new Promise((r) => setTimeout(r, 20));
    expect(used).toEqual([[0, 'a']]);
    store.set(1, 'b').set(3, 'd').set(4, 'e');
    await done;
    expect(used).toEqual([
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
      [3, 'd'],
      [4, 'e'],
      [5, 'f'],
    ]);
    // a result once read is held, not read again; 5 lies beyond the window of 4 until 0 and 1 are in
    expect(found.sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(reads).toBeGreaterThan(6); // missing ones were polled
  });

  it('stops at a cancelled signal', async () => {
    const ac = new AbortController();
    const done = waiter().waitFor(['k0'], [], ac.signal, undefined, { read: async () => null, use: () => undefined });
    ac.abort();
    await expect(done).rejects.toThrow('cancelled');
  });

  it('acts on a notice that came while it was reading, not after its next poll', async () => {
    // the results channel: a fake subscriber connection the test publishes on
    const channel = Object.assign(new EventEmitter(), { subscribe: async () => 1 });
    const redis = { duplicate: () => channel } as unknown as Redis;
    const w = new ShardWaiter(redis, {} as Queue, new EventEmitter() as unknown as QueueEvents, 60_000);
    await w.listen('results');
    const store = new Map<number, string>();
    const ac = new AbortController();
    let reads = 0;
    const done = w.waitFor(['k0'], [], ac.signal, undefined, {
      read: async (i) => {
        const value = store.get(i) ?? null;
        // the result lands, and its notice arrives, after Redis answered this read
        if (reads++ === 0) {
          store.set(0, 'a');
          channel.emit('message', 'results', 'k0');
        }
        return value;
      },
      use: () => undefined,
    });
    const outcome = await Promise.race([
      done.then(() => 'woke'),
      new Promise((r) => setTimeout(() => r('slept until the poll'), 2_000)),
    ]);
    ac.abort();
    await done.catch(() => undefined);
    expect(outcome).toBe('woke');
    expect(reads).toBe(2);
  });
});

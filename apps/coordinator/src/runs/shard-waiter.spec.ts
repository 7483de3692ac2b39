import { EventEmitter } from 'node:events';
import type { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ShardJobFailedError, ShardWaiter } from './shard-waiter';

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

describe('ShardWaiter wake-ups', () => {
  afterEach(() => void vi.useRealTimers());

  /** A waiter polling every minute (fake time) on a results channel the test publishes on. */
  async function setup(present: string[] = []) {
    vi.useFakeTimers();
    const channel = Object.assign(new EventEmitter(), { subscribe: async () => 1 });
    const store = new Set(present);
    const counts = { reads: 0 };
    const redis = {
      duplicate: () => channel,
      exists: async (...ks: string[]) => (counts.reads++, ks.filter((k) => store.has(k)).length),
    } as unknown as Redis;
    const events = new EventEmitter();
    const queue = { getJobState: async () => 'failed' } as unknown as Queue;
    const w = new ShardWaiter(redis, queue, events as unknown as QueueEvents, 60_000);
    await w.listen('results');
    const land = (k: string) => (store.add(k), channel.emit('message', 'results', k));
    return { w, land, counts, events };
  }

  /** Whether `p` has settled once the microtasks and timers due now have run. */
  async function settled(p: Promise<unknown>): Promise<boolean> {
    let done = false;
    void p.then(
      () => (done = true),
      () => (done = true),
    );
    await vi.advanceTimersByTimeAsync(0);
    return done;
  }

  it('reads again once as many of its keys were noticed as were missing, not at each notice', async () => {
    const { w, land, counts } = await setup(['k0']);
    const done = w.waitFor(['k0', 'k1', 'k2'], []);
    expect(await settled(done)).toBe(false);
    expect(counts.reads).toBe(1);
    land('k1');
    land('other-run:k1'); // another run's result: no read
    expect(await settled(done)).toBe(false);
    expect(counts.reads).toBe(1);
    land('k2');
    expect(await settled(done)).toBe(true);
    expect(counts.reads).toBe(2);
  });

  it('reads again at its poll when a notice was lost', async () => {
    const { w, counts } = await setup(['k0']);
    const done = w.waitFor(['k0'], []);
    await vi.advanceTimersByTimeAsync(0);
    expect(counts.reads).toBe(1);
    expect(await settled(done)).toBe(true);
    const late = w.waitFor(['k9'], []);
    await vi.advanceTimersByTimeAsync(0);
    expect(counts.reads).toBe(2);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(counts.reads).toBe(3);
    expect(await settled(late)).toBe(false);
  });

  it('ends at once when one of its jobs fails for good', async () => {
    const { w, events } = await setup();
    const done = w.waitFor(['k0', 'k1'], ['j0', 'j1']);
    const outcome = done.catch((e: unknown) => e);
    expect(await settled(done)).toBe(false);
    events.emit('failed', { jobId: 'j1', failedReason: 'broken' });
    expect(await settled(done)).toBe(true);
    expect(await outcome).toBeInstanceOf(ShardJobFailedError);
  });
});

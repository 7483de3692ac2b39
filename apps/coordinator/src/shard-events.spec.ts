import type { QueueEvents } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { spaceReads } from './shard-events.service';

/** A QueueEvents stand-in: its backend's readEvents records when each read started (fake time). */
function fakeEvents() {
  const starts: number[] = [];
  const events = {
    closing: undefined as Promise<void> | undefined,
    backend: {
      readEvents: async (id: string) => {
        starts.push(Date.now());
        return [['events', [[id, ['event', 'added']]]]];
      },
    },
  };
  spaceReads(events as unknown as QueueEvents, 100);
  return { events, starts, read: () => events.backend.readEvents('1-0') };
}

describe('spaceReads', () => {
  beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => void vi.useRealTimers());

  it('starts a read at once after a quiet spell, and the next ones 100 ms after the one before', async () => {
    const { starts, read } = fakeEvents();
    await read();
    const second = read();
    await vi.advanceTimersByTimeAsync(99);
    expect(starts).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await second;
    expect(starts).toEqual([1_000_000, 1_000_100]);
    await vi.advanceTimersByTimeAsync(500); // quiet: a blocking read waited this long
    await read();
    expect(starts).toEqual([1_000_000, 1_000_100, 1_000_600]);
  });

  it('reads nothing once the events are closing', async () => {
    const { events, starts, read } = fakeEvents();
    await read();
    const next = read();
    events.closing = Promise.resolve();
    await vi.advanceTimersByTimeAsync(100);
    expect(await next).toBeNull();
    expect(starts).toHaveLength(1);
  });
});

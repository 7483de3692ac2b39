import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { Subject } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CHECK_MS, sseFrame, streamEvents } from './event-stream';

/** A response whose socket never takes a byte: everything written stays queued. */
class StalledResponse extends EventEmitter {
  writableLength = 0;
  destroyed = false;
  chunks: Buffer[] = [];
  writeHead = vi.fn();
  flushHeaders = vi.fn();
  write(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    this.writableLength += chunk.length;
    return false;
  }
  end(): void {
    this.emit('close');
  }
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
}

afterEach(() => vi.useRealTimers());

describe('sseFrame', () => {
  it('encodes an event as SSE lines once, shared by every client', () => {
    const event = { type: 'runs', data: { changed: [], removed: ['a'] }, retry: 2000 };
    const frame = sseFrame(event);
    expect(frame.toString()).toBe('event: runs\nretry: 2000\ndata: {"changed":[],"removed":["a"]}\n\n');
    expect(sseFrame(event)).toBe(frame);
    expect(sseFrame({ data: 'a\nb' }).toString()).toBe('data: a\ndata: b\n\n');
  });
});

describe('streamEvents', () => {
  it('drops a client whose queue passes the bound at the next event, and unsubscribes', () => {
    const events = new Subject<{ type: string; data: string }>();
    const res = new StalledResponse();
    const dropped: number[] = [];
    streamEvents(events, res as unknown as ServerResponse, (n) => dropped.push(n), 1000);
    events.next({ type: 'history', data: 'x'.repeat(600) });
    events.next({ type: 'history', data: 'y'.repeat(600) });
    expect(res.destroyed).toBe(false);
    events.next({ type: 'history', data: 'z' });
    expect(res.destroyed).toBe(true);
    expect(dropped).toEqual([res.writableLength]);
    expect(res.chunks).toHaveLength(2);
    expect(events.observed).toBe(false);
  });

  it('drops a backed-up client on the timer when no event comes, keeps one that reads', () => {
    vi.useFakeTimers();
    const events = new Subject<{ type: string; data: string }>();
    const stalled = new StalledResponse();
    const reading = new StalledResponse();
    streamEvents(events, stalled as unknown as ServerResponse, () => undefined, 1000);
    streamEvents(events, reading as unknown as ServerResponse, () => undefined, 1000);
    events.next({ type: 'snapshot', data: 'x'.repeat(5000) });
    expect(stalled.chunks[0]).toBe(reading.chunks[0]);
    reading.writableLength = 0; // its socket took the frame
    vi.advanceTimersByTime(CHECK_MS);
    expect(stalled.destroyed).toBe(true);
    expect(reading.destroyed).toBe(false);
    reading.end();
    expect(events.observed).toBe(false);
  });

  it('keeps a backed-up client whose queue shrinks between checks, up to 8 times the bound', () => {
    vi.useFakeTimers();
    const events = new Subject<{ type: string; data: string }>();
    const slow = new StalledResponse();
    streamEvents(events, slow as unknown as ServerResponse, () => undefined, 1000);
    events.next({ type: 'snapshot', data: 'x'.repeat(5000) });
    slow.writableLength = 3000; // took 2 kB of the frame: it reads
    vi.advanceTimersByTime(CHECK_MS);
    expect(slow.destroyed).toBe(false);
    vi.advanceTimersByTime(CHECK_MS); // took nothing since: not reading
    expect(slow.destroyed).toBe(true);
    // past 8 times the bound, reading does not keep it
    const trickle = new StalledResponse();
    streamEvents(events, trickle as unknown as ServerResponse, () => undefined, 1000);
    events.next({ type: 'snapshot', data: 'x'.repeat(5000) });
    trickle.writableLength -= 10;
    events.next({ type: 'history', data: 'y'.repeat(9000) });
    expect(trickle.destroyed).toBe(false);
    expect(trickle.chunks).toHaveLength(2);
    trickle.writableLength -= 10;
    vi.advanceTimersByTime(CHECK_MS);
    expect(trickle.destroyed).toBe(true);
  });
});

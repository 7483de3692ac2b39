import type { MessageEvent } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import type { Observable } from 'rxjs';

/** Bytes a client may have queued in its socket; past this it is dropped unless it read since the last check. */
export const MAX_QUEUED_BYTES = 1 << 20;
/** ...and past this many times MAX_QUEUED_BYTES it is dropped even while it reads (a client that trickles). */
const READING_ALLOWANCE = 8;
/** How often a client is checked when nothing new is sent to it. */
export const CHECK_MS = 1000;

const frames = new WeakMap<MessageEvent, Buffer>();

/** The SSE frame of an event, encoded once however many clients it goes to: they share the Buffer. */
export function sseFrame(event: MessageEvent): Buffer {
  let frame = frames.get(event);
  if (!frame) {
    const data = typeof event.data === 'string' ? event.data : JSON.stringify(event.data);
    let text = event.type ? `event: ${event.type}\n` : '';
    if (event.id !== undefined) text += `id: ${event.id}\n`;
    if (event.retry !== undefined) text += `retry: ${event.retry}\n`;
    for (const line of data.split('\n')) text += `data: ${line}\n`;
    frame = Buffer.from(`${text}\n`);
    frames.set(event, frame);
  }
  return frame;
}

/**
 * Streams `events` to `res` as server-sent events until either side ends. A client that does not
 * read lets frames pile up in its socket's queue (res.writableLength, bytes the kernel has not
 * taken); past `maxQueued`, checked before each frame and every CHECK_MS, the connection is
 * dropped and `onDrop` told (an EventSource reconnects and starts again from a snapshot), unless
 * its queue shrank since the last check (it reads, only slowly: a snapshot of several MB takes a
 * busy reader more than a check's interval) and holds at most READING_ALLOWANCE times `maxQueued`.
 * So a client holds at most that plus one frame, and as frames are Buffers shared by all clients,
 * even that is mostly references.
 */
export function streamEvents(
  events: Observable<MessageEvent>,
  res: ServerResponse,
  onDrop: (queuedBytes: number) => void,
  maxQueued = MAX_QUEUED_BYTES,
): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  // the queue's length at the last check (after that check's write)
  let lastQueued = 0;
  const backedUp = (): boolean => {
    if (res.destroyed) return true;
    const queued = res.writableLength;
    const reading = queued < lastQueued && queued <= READING_ALLOWANCE * maxQueued;
    lastQueued = queued;
    if (queued <= maxQueued || reading) return false;
    onDrop(queued);
    res.destroy();
    return true;
  };
  const check = setInterval(backedUp, CHECK_MS);
  check.unref();
  const subscription = events.subscribe({
    next: (event) => {
      if (backedUp()) return;
      res.write(sseFrame(event));
      lastQueued = res.writableLength;
    },
    error: () => res.end(),
    complete: () => res.end(),
  });
  res.once('close', () => {
    clearInterval(check);
    subscription.unsubscribe();
  });
}

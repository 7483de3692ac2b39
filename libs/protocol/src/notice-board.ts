/**
 * The wake-up of a process that waits on state another process writes to Redis: a notice on a
 * pub/sub channel ends its wait early, a poll ends it anyway. Notices are best-effort (a dropped
 * connection loses them); the waiter decides from the state it reads, never from a notice.
 *
 * The race it closes: a waiter reads the state, finds it not ready, then waits. A notice that
 * arrives between the read and the wait (while the read is in flight, or served in the same turn
 * of the event loop just before the read's reply) has no waiter to wake, and the wait sleeps out
 * its poll. So notices are numbered: a waiter takes a `mark()` BEFORE its reads and passes it to
 * `wait`, which returns at once when a notice it waits for came after the mark. A wake-up too many
 * costs one read more; one too few cost a whole poll (57b1e3f, 0d65ddd: one step in 14-17 stalled).
 *
 * One subscriber connection per board, not per waiter (Redis Streams' `XREAD BLOCK` from a last
 * id closes the race too, but holds a blocking connection per waiter and a round trip per wait).
 */

/** The part of a subscriber connection (an ioredis client in subscriber mode) the board uses. */
export interface Subscriber {
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  subscribe(channel: string): Promise<unknown>;
  quit(): Promise<unknown>;
  disconnect(): void;
}

export interface WaitOptions {
  /** The notice (message) that ends the wait; any notice when absent. */
  topic?: string;
  /** A `mark()` taken before the reads this wait follows: a notice after it ends the wait at once. */
  since: number;
  /** The poll: the wait ends after this many ms without a notice. */
  ms: number;
  /** Ends the wait (without an error: the caller checks its signal). */
  signal?: AbortSignal;
  /**
   * Without `topic`: a notice ends the wait only once this holds (checked at once and at each
   * notice; e.g. enough of the topics the waiter needs were noticed: `noticedOf`).
   */
  until?: () => boolean;
}

/** Topics of recent notices remembered with their number (the oldest is forgotten first). */
const REMEMBERED = 64;

export class NoticeBoard {
  private sub?: Subscriber;
  private channel?: string;
  private opening?: Promise<void>;
  private closed = false;
  /** Notices so far; a notice's number is the count once it is in. */
  private count = 0;
  /** The number of the latest notice of each recent topic, in arrival order. */
  private readonly recent = new Map<string, number>();
  /** The highest number of a topic forgotten: a wait marked before it may have missed its notice. */
  private forgotten = 0;
  /** Waits for one topic, and waits for any notice (key undefined). */
  private readonly waiters = new Map<string | undefined, Set<() => void>>();

  /**
   * @param open opens the subscriber connection (`redis.duplicate()`), on first `listen()`
   * @param onError a connection error (ioredis reconnects; waits poll meanwhile)
   */
  constructor(
    private readonly open: () => Subscriber,
    private readonly onError: (err: Error) => void = () => undefined,
  ) {}

  /**
   * Subscribes to `channel` (a board hears one), once: later calls wait for the same subscription,
   * and do not fail when it failed (the first caller got the error; waits poll meanwhile).
   */
  listen(channel: string): Promise<void> {
    if (this.channel !== undefined && this.channel !== channel)
      throw new Error(`a notice board hears one channel: ${this.channel}, not ${channel}`);
    // closed (the process is shutting down): waits just poll; no new connection to keep it alive
    if (this.closed) return Promise.resolve();
    if (this.opening) return this.opening.catch(() => undefined);
    this.channel = channel;
    return (this.opening = this.subscribe(channel));
  }

  private async subscribe(channel: string): Promise<void> {
    const sub = this.open();
    this.sub = sub;
    sub.on('error', this.onError);
    sub.on('message', (_channel, message) => this.post(message));
    await sub.subscribe(channel);
  }

  /** Take before reading what a wait depends on; pass it to `wait` as `since`. */
  mark(): number {
    return this.count;
  }

  /** A notice: from the channel, or from this process (an event that changes what waiters read). */
  post(topic: string): void {
    const n = ++this.count;
    this.recent.delete(topic); // re-inserted last: the map's order is arrival order
    this.recent.set(topic, n);
    if (this.recent.size > REMEMBERED) {
      const [oldest, number] = this.recent.entries().next().value as [string, number];
      this.recent.delete(oldest);
      this.forgotten = number;
    }
    for (const key of [topic, undefined]) for (const w of [...(this.waiters.get(key) ?? [])]) w();
  }

  /** Whether a notice `wait` would end on came after `since`. */
  private noticed(topic: string | undefined, since: number): boolean {
    if (topic === undefined) return this.count > since;
    return (this.recent.get(topic) ?? 0) > since || this.forgotten > since;
  }

  /** How many of `topics` were noticed after `since` (all of them when topics were forgotten since). */
  noticedOf(topics: readonly string[], since: number): number {
    if (this.forgotten > since) return topics.length;
    let n = 0;
    for (const t of topics) if ((this.recent.get(t) ?? 0) > since) n++;
    return n;
  }

  /**
   * Resolves on the first of: a notice of `topic` (any notice without one) after `since`, at once
   * when it came already; `ms` passing; `signal` aborting.
   */
  wait({ topic, since, ms, signal, until }: WaitOptions): Promise<void> {
    const ready = until && topic === undefined ? () => this.count > since && until() : () => this.noticed(topic, since);
    if (ready() || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let set = this.waiters.get(topic);
      if (!set) this.waiters.set(topic, (set = new Set()));
      const waiters = set;
      const done = () => {
        clearTimeout(timer);
        waiters.delete(onNotice);
        if (waiters.size === 0 && this.waiters.get(topic) === waiters) this.waiters.delete(topic);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const onNotice = () => ready() && done();
      const timer = setTimeout(done, ms);
      waiters.add(onNotice);
      signal?.addEventListener('abort', done);
    });
  }

  /** Unsubscribes; idempotent. Waits that are on end at their poll. */
  async close(): Promise<void> {
    this.closed = true;
    const sub = this.sub;
    this.sub = undefined;
    if (sub) await sub.quit().catch(() => sub.disconnect());
  }
}

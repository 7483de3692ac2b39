import type { Redis } from 'ioredis';

/** Notices remembered after they arrived (the oldest is forgotten first). */
const REMEMBERED = 64;

/**
 * Wake-ups for workers waiting on parameters a step ahead: one subscriber connection (opened on
 * first use) on the params channel, where the coordinator publishes `<runId>:<version>` with each
 * new version. A notice only wakes a waiter; waiters poll the key too, so a lost message costs
 * at most one poll interval.
 *
 * A notice can be handled before its waiter exists: the waiter first reads the key and the run's
 * version, and when both sockets turn readable in one turn of the event loop the notice's may be
 * served first. So recent notices are numbered and kept; a waiter takes a mark before its reads,
 * and a notice that came after the mark ends its wait at once.
 */
export class ParamsNotices {
  private sub?: Redis;
  private closed = false;
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Notices received so far, and the number of each recent one. */
  private count = 0;
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly redis: Redis,
    private readonly channel: string,
  ) {}

  /** Take before reading what a wait depends on; pass to `next`. */
  mark(): number {
    return this.count;
  }

  /**
   * Resolves on the notice for `runId:version` or after `ms`, whichever comes first; at once when
   * that notice came after `since` (a mark).
   */
  async next(runId: string, version: number, ms: number, since = this.count): Promise<void> {
    await this.subscribe();
    const key = `${runId}:${version}`;
    if ((this.recent.get(key) ?? 0) > since) return;
    await new Promise<void>((resolve) => {
      let set = this.waiters.get(key);
      if (!set) this.waiters.set(key, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0) this.waiters.delete(key);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }

  private async subscribe(): Promise<void> {
    // closed (the worker is shutting down): waiters just time out; no new connection to keep it alive
    if (this.sub || this.closed) return;
    const sub = this.redis.duplicate();
    this.sub = sub;
    sub.on('error', () => undefined); // ioredis reconnects; waiters poll meanwhile
    sub.on('message', (_channel: string, message: string) => {
      this.recent.delete(message); // re-inserted last: the map's order is arrival order
      this.recent.set(message, ++this.count);
      if (this.recent.size > REMEMBERED) this.recent.delete(this.recent.keys().next().value as string);
      for (const w of [...(this.waiters.get(message) ?? [])]) w();
    });
    await sub.subscribe(this.channel);
  }

  async close(): Promise<void> {
    this.closed = true;
    const sub = this.sub;
    this.sub = undefined;
    if (sub) await sub.quit().catch(() => sub.disconnect());
  }
}

import type { Redis } from 'ioredis';

/**
 * Wake-ups for workers waiting on parameters a step ahead: one subscriber connection (opened on
 * first use) on the params channel, where the coordinator publishes `<runId>:<version>` with each
 * new version. A notice only wakes a waiter; waiters poll the key too, so a lost message costs
 * at most one poll interval.
 */
export class ParamsNotices {
  private sub?: Redis;
  private closed = false;
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(
    private readonly redis: Redis,
    private readonly channel: string,
  ) {}

  /** Resolves on the notice for `runId:version` or after `ms`, whichever comes first. */
  async next(runId: string, version: number, ms: number): Promise<void> {
    await this.subscribe();
    const key = `${runId}:${version}`;
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

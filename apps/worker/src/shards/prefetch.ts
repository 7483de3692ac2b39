/**
 * Job slots beyond the compute threads. With more shards per step than live workers, a worker
 * takes one job more than it has threads: it gathers the next shard's rows (and encodes and
 * writes the last result) while its threads compute. With as many workers as shards or more, the
 * extra slot stays off: it would let one worker take two shards of a step while another idles.
 * The slot turns on only on a count of live workers taken after the run's shards were first seen:
 * the heartbeat's count can be seconds old (a worker that started with others counts itself alone).
 */
export class PrefetchPolicy {
  private shards = 0;
  private seenAt = -Infinity;
  /** When `shards` was last raised (a run not seen before). */
  private newAt = -Infinity;
  private live = 1;
  private countedAt = -Infinity;
  private current: number;
  /** Told each time the slot count changes (the shard processor sets BullMQ's concurrency). */
  onChange?: (slots: number) => void;
  /** Asks for a fresh count of live workers (the heartbeat answers with liveWorkers). */
  recount?: () => void;

  constructor(
    private readonly threads: number,
    /** Shards seen this long ago no longer count (the run may have ended). */
    private readonly memoryMs = 30_000,
  ) {
    this.current = threads;
  }

  /** A gradient job of a run with `shards` shards per step arrived. */
  sawStep(shards: number, now = Date.now()): void {
    const fresh = shards > this.shards || now - this.seenAt > this.memoryMs;
    this.seenAt = now;
    if (fresh) {
      this.shards = shards;
      this.newAt = now;
      if (shards > this.live) this.recount?.();
    }
    this.update(now);
  }

  /** The heartbeat counted `n` live workers (this one included). */
  liveWorkers(n: number, now = Date.now()): void {
    this.live = Math.max(1, n);
    this.countedAt = now;
    this.update(now);
  }

  /** BullMQ concurrency: the threads, plus one while prefetching pays. */
  slots(now = Date.now()): number {
    const recent = now - this.seenAt <= this.memoryMs;
    const counted = this.countedAt >= this.newAt;
    return this.threads + (recent && counted && this.shards > this.live ? 1 : 0);
  }

  private update(now: number): void {
    const s = this.slots(now);
    if (s !== this.current) {
      this.current = s;
      this.onChange?.(s);
    }
  }
}

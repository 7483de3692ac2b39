/**
 * Job slots beyond the compute threads. With more shards per step than live workers, a worker
 * takes one job more than it has threads: it gathers the next shard's rows (and encodes and
 * writes the last result) while its threads compute. With as many workers as shards or more, the
 * extra slot stays off: it would let one worker take two shards of a step while another idles.
 */
export class PrefetchPolicy {
  private shards = 0;
  private seenAt = 0;
  private live = 1;
  private current: number;
  /** Told each time the slot count changes (the shard processor sets BullMQ's concurrency). */
  onChange?: (slots: number) => void;

  constructor(
    private readonly threads: number,
    /** Shards seen this long ago no longer count (the run may have ended). */
    private readonly memoryMs = 30_000,
  ) {
    this.current = threads;
  }

  /** A gradient job of a run with `shards` shards per step arrived. */
  sawStep(shards: number, now = Date.now()): void {
    if (shards >= this.shards || now - this.seenAt > this.memoryMs) this.shards = shards;
    this.seenAt = now;
    this.update(now);
  }

  /** The heartbeat counted `n` live workers (this one included). */
  liveWorkers(n: number, now = Date.now()): void {
    this.live = Math.max(1, n);
    this.update(now);
  }

  /** BullMQ concurrency: the threads, plus one while prefetching pays. */
  slots(now = Date.now()): number {
    const recent = now - this.seenAt <= this.memoryMs;
    return this.threads + (recent && this.shards > this.live ? 1 : 0);
  }

  private update(now: number): void {
    const s = this.slots(now);
    if (s !== this.current) {
      this.current = s;
      this.onChange?.(s);
    }
  }
}

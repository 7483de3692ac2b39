import { Logger } from '@nestjs/common';
import { NoticeBoard } from '@nnq/protocol';
import type { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { JobFailures } from './job-failures';

export class ShardJobFailedError extends Error {
  constructor(
    readonly jobId: string,
    reason: string,
  ) {
    super(`shard job ${jobId} failed for good: ${reason}`);
    this.name = 'ShardJobFailedError';
  }
}

export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

/** Results read in index order: `read` answers null while a result is missing. */
export interface Take<T> {
  read(index: number): Promise<T | null>;
  use(index: number, value: T): void;
}

/** How many missing results one wake-up reads at most (each may be megabytes). */
const TAKE_AHEAD = 4;
/** A wait re-reads the state of the jobs whose results are missing every this many polls (2 s). */
const RECHECK_POLLS = 10;

/**
 * Waits until every result key of a step exists. Notices on the results channel (published by
 * the scripts that write results, before BullMQ even completes the job) only wake the waiter
 * early, and only those naming results it misses (other runs' wake nothing; a plain wait reads
 * again once as many of its keys were noticed as were missing); completion is decided from the
 * keys themselves, re-read after such a wake-up and at least every `pollMs`. A job that failed for
 * good (no attempts left, or unrecoverable; from QueueEvents) ends the wait.
 */
export class ShardWaiter {
  private readonly logger = new Logger(ShardWaiter.name);
  private readonly failed = new Map<string, string>();
  /** Job ids the running waits are on, with how many waits. */
  private readonly awaited = new Map<string, number>();
  /** Wake-ups: notices on the results channel, and failures; one that comes while a wait reads is not lost. */
  private readonly notices: NoticeBoard;

  constructor(
    private readonly redis: Redis,
    private readonly queue: Queue,
    events: QueueEvents,
    private readonly pollMs = 200,
    /** Puts back a planned job whose id a job not in the plan took; explains stalled jobs. */
    private readonly failures?: JobFailures,
  ) {
    // polls cover a gap in the channel
    this.notices = new NoticeBoard(
      () => redis.duplicate(),
      (err) => this.logger.warn(`results channel: ${err.message}`),
    );
    events.on('failed', ({ jobId, failedReason }) => {
      void this.checkFailed(jobId, failedReason);
    });
  }

  /** Subscribe to the results channel (a connection of its own). */
  async listen(channel: string): Promise<void> {
    await this.notices.listen(channel);
  }

  async close(): Promise<void> {
    await this.notices.close();
  }

  private async checkFailed(jobId: string, reason: string): Promise<void> {
    // a failed attempt with attempts left goes back to the queue; only a final failure counts
    const state = await this.queue.getJobState(jobId).catch(() => 'unknown');
    if (state === 'failed') {
      const outcome = this.failures
        ? await this.failures.handle(jobId, reason, (id) => this.awaited.has(id)).catch(() => ({ jobId, reason }))
        : { jobId, reason };
      // undefined: the planned job was queued again under a fresh id (job-failures.ts); the wait goes on
      if (outcome.reason === undefined) return;
      this.failed.set(outcome.jobId, outcome.reason);
      this.notices.post(`failed ${outcome.jobId}`);
    }
  }

  /**
   * Resolves when all `keys` exist; `jobIds[i]` is the job that writes `keys[i]`. With a
   * straggler deadline, `onDeadline` gets the indices still missing each time it passes (the
   * caller queues duplicates; whichever copy writes first counts). With `take`, results are handed
   * over in index order as they come: `take.read(i)` reads key i (null while it is missing; one read
   * per result, no existence check before it), `take.use(i, value)` gets them in order. Up to
   * TAKE_AHEAD keys are read at once, so results that land together cost one round trip.
   */
  async waitFor<T>(
    keys: string[],
    jobIds: string[],
    signal?: AbortSignal,
    straggler?: { afterMs: number; onDeadline: (missing: number[], round: number) => Promise<void> },
    take?: Take<T>,
  ): Promise<void> {
    // the job ids a wait is on now: a squatted reduce job's copy is queued only then (job-failures.ts)
    for (const id of jobIds) this.awaited.set(id, (this.awaited.get(id) ?? 0) + 1);
    try {
      await this.waitUntil(keys, jobIds, signal, straggler, take);
    } finally {
      for (const id of jobIds) {
        const n = (this.awaited.get(id) ?? 1) - 1;
        if (n > 0) this.awaited.set(id, n);
        else this.awaited.delete(id);
      }
    }
  }

  private async waitUntil<T>(
    keys: string[],
    jobIds: string[],
    signal?: AbortSignal,
    straggler?: { afterMs: number; onDeadline: (missing: number[], round: number) => Promise<void> },
    take?: Take<T>,
  ): Promise<void> {
    let deadline = straggler && straggler.afterMs > 0 ? Date.now() + straggler.afterMs : Infinity;
    let round = 0;
    let next = 0;
    let recheckAt = Date.now() + RECHECK_POLLS * this.pollMs;
    // results read but not yet handed over (an index after one still missing)
    const held = new Map<number, T>();
    for (;;) {
      if (signal?.aborted) throw new CancelledError();
      // a notice from here on may concern a key the reads below find missing: it skips the sleep
      const seen = this.notices.mark();
      /** After the reads: whether the notices since `seen` call for reading again. */
      let woken: () => boolean;
      if (take) {
        // hand over results in index order as soon as the next one exists (overlaps the sum with compute)
        for (;;) {
          const want: number[] = [];
          for (let i = next; i < Math.min(keys.length, next + TAKE_AHEAD); i++) if (!held.has(i)) want.push(i);
          const got = await Promise.all(want.map((i) => take.read(i)));
          want.forEach((i, k) => got[k] !== null && held.set(i, got[k]));
          const before = next;
          while (held.has(next)) {
            take.use(next, held.get(next)!);
            held.delete(next++);
          }
          // read on while that freed more of the window; else wait for the next notice
          if (next === before || next === keys.length || !want.length) break;
        }
        if (next === keys.length) return;
        // a notice of a result the window still misses (the others' and other runs' wake nothing)
        const missing = keys.slice(next, next + TAKE_AHEAD).filter((_, k) => !held.has(next + k));
        woken = () => this.notices.noticedOf(missing, seen) > 0;
      } else {
        const present = await this.redis.exists(...keys);
        if (present === keys.length) return;
        // read again once as many of the keys were noticed as were missing (any may have been there)
        woken = () => this.notices.noticedOf(keys, seen) >= keys.length - present;
      }
      if (Date.now() >= deadline && straggler) {
        const flags = await Promise.all(keys.map((k) => this.redis.exists(k)));
        const missing = flags.flatMap((f, i) => (f ? [] : [i]));
        round++;
        if (missing.length) await straggler.onDeadline(missing, round);
        deadline = round < 3 ? Date.now() + straggler.afterMs : Infinity;
      }
      if (jobIds.length && Date.now() >= recheckAt) {
        await this.recheck(keys, jobIds);
        recheckAt = Date.now() + RECHECK_POLLS * this.pollMs;
      }
      for (const id of jobIds) {
        const reason = this.failed.get(id);
        if (reason !== undefined) {
          this.failed.delete(id);
          throw new ShardJobFailedError(id, reason);
        }
      }
      const failed = () => jobIds.some((id) => this.failed.has(id));
      await this.notices.wait({ since: seen, ms: this.pollMs, signal, until: () => woken() || failed() });
    }
  }

  /**
   * Failure events are best-effort (QueueEvents): a job that failed for good while none reached
   * this coordinator (it was down, or the failure came before the step's forget()) would keep the
   * wait going for ever. The jobs of missing results, and the last repair copy of each
   * (job-failures.ts), are read back; a failed one is handled as its event would have been.
   */
  private async recheck(keys: string[], jobIds: string[]): Promise<void> {
    const flags = await Promise.all(keys.map((k) => this.redis.exists(k)));
    for (const [i, exists] of flags.entries()) {
      if (exists || !jobIds[i]) continue;
      for (const id of [jobIds[i], this.failures?.latestCopy(jobIds[i])]) {
        const job = id ? await this.queue.getJob(id).catch(() => undefined) : undefined;
        if (id && job?.failedReason && (await job.isFailed())) await this.checkFailed(id, job.failedReason);
      }
    }
  }

  /** Forget failures of jobs that were re-added (a resumed run). */
  forget(jobIds: string[]): void {
    for (const id of jobIds) this.failed.delete(id);
  }

  get log(): Logger {
    return this.logger;
  }
}

import { NoticeBoard } from '@nnq/protocol';
import type { Redis } from 'ioredis';

/**
 * Wake-ups for workers waiting on parameters a step ahead: the params channel, where the
 * coordinator publishes `<runId>:<version>` with each new version, on a NoticeBoard (one subscriber
 * connection, opened on first use). A notice only wakes a waiter; waiters poll the key too, so a
 * lost message costs at most one poll interval.
 *
 * A notice can be handled before its waiter exists: the waiter first reads the key and the run's
 * version, and when both sockets turn readable in one turn of the event loop the notice's may be
 * served first. So a waiter takes a mark before its reads, and a notice that came after the mark
 * ends its wait at once (notice-board.ts).
 */
export class ParamsNotices {
  private readonly board: NoticeBoard;

  constructor(
    redis: Redis,
    private readonly channel: string,
  ) {
    this.board = new NoticeBoard(() => redis.duplicate()); // ioredis reconnects; waiters poll meanwhile
  }

  /** Take before reading what a wait depends on; pass to `next`. */
  mark(): number {
    return this.board.mark();
  }

  /**
   * Resolves on the notice for `runId:version` or after `ms`, whichever comes first; at once when
   * that notice came after `since` (a mark).
   */
  async next(runId: string, version: number, ms: number, since = this.board.mark()): Promise<void> {
    await this.board.listen(this.channel);
    await this.board.wait({ topic: `${runId}:${version}`, since, ms });
  }

  /** A notice from this process: what waiters on `runId:version` read has changed here. */
  post(runId: string, version: number): void {
    this.board.post(`${runId}:${version}`);
  }

  async close(): Promise<void> {
    await this.board.close();
  }
}

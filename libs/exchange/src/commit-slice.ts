import type { Redis } from 'ioredis';

/** Keys and values of one reduced slice (reduce.ts). */
export interface SliceCommit {
  /** Staged parameters of version v+1 (the coordinator renames them once every slice is in). */
  staging: string;
  /** The slice's optimizer state after this step, and before it (gone: the step is over). */
  stateNext: string;
  stateNow: string;
  /** The slice's done marker, its value and TTL, and the channel it is announced on. */
  marker: string;
  markerValue: string | Buffer;
  markerTtlMs: number;
  channel: string;
  /** Where the slice's parameter bytes go in the staged blob, and the bytes. */
  offset: number;
  params: Buffer;
  state: Buffer;
}

/**
 * Write one reduced slice atomically and once, and announce its marker: returns 1 written, 0
 * already reduced (the marker exists), -1 the step is over (its state is gone: cleaned up after
 * the publish, or the run ended). The coordinator deletes a step's state and markers in one MULTI
 * after it publishes, so a late duplicate never writes into a version that later steps read.
 *
 * An optimistic transaction, not a Lua script: WATCH the marker and the step's state, check them,
 * then MULTI { SETRANGE staging, SET state, SET marker, PUBLISH }; EXEC fails if either changed in
 * between, and the checks run again. Redis copies a script's arguments into Lua and back out,
 * ~1.3 ms of its single thread per MB; a slice carries its parameters and optimizer state (12 MB
 * a step at a million parameters with Adam). WATCH holds per connection, so `conn` must serve
 * nothing else meanwhile (the caller serialises commits on a connection of their own). All keys
 * share the run's {run:<id>} hash slot. SETRANGE pads the staged blob with zeros up to its offset:
 * slices land in any order, and the blob is whole once every marker is there.
 */
export async function commitSlice(conn: Redis, c: SliceCommit): Promise<number> {
  for (;;) {
    await conn.watch(c.marker, c.stateNow);
    const [reduced, live] = await Promise.all([conn.exists(c.marker), conn.exists(c.stateNow)]);
    if (reduced || !live) {
      await conn.unwatch();
      return reduced ? 0 : -1;
    }
    const done = await conn
      .multi()
      .setrange(c.staging, c.offset, c.params)
      .set(c.stateNext, c.state)
      .set(c.marker, c.markerValue, 'PX', c.markerTtlMs)
      .publish(c.channel, c.marker)
      .exec();
    // null: a watched key changed (a duplicate committed, or the step was cleaned up): check again
    if (done) {
      for (const [err] of done) if (err) throw err;
      return 1;
    }
  }
}

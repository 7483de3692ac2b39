import type { Queue } from 'bullmq';

/**
 * The publisher's half of a worker's park (apps/worker/src/shards/park.ts). A job that gave up
 * waiting for parameters v sits in BullMQ's delayed set, registered under `keys.parked(run, v)`.
 * The transaction that publishes v also takes that set (SMEMBERS, DEL); the jobs it names go back
 * to the queue here, before the next step's jobs are queued, so they come first in the queue's
 * order and no free slot takes a job that would only wait for them.
 *
 * `ids` is the SMEMBERS reply. A job no longer delayed (BullMQ promoted it when its delay ran out,
 * or its worker did, or it is gone) is skipped. Returns how many were put back.
 */
export async function promoteParked(queue: Queue, ids: unknown): Promise<number> {
  if (!Array.isArray(ids) || ids.length === 0) return 0;
  const moved = await Promise.all(
    ids.map((id) =>
      queue.backend.promote(String(id)).then(
        () => 1,
        () => 0,
      ),
    ),
  );
  return moved.reduce((a, b) => a + b, 0);
}

import type { KeySchema } from '@nnq/protocol';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';

/** A registration outlives a version that is never published (the run ended) only this long. */
const PARKED_TTL_MS = 60 * 60 * 1000;

/** Where a parked job ends up: in the delayed set until its step begins, or back in the queue now. */
export type Parked = 'parked' | 'promoted';

/**
 * Park a job whose parameters `version` are not out: it moves to BullMQ's delayed set for
 * `delayMs` (no attempt used) and frees its slot for work that can run now.
 *
 * A parked job must not sit out its delay once its step has begun: free slots would take the next
 * step's jobs, which wait for parameters this job holds up, and every step would pay their wait
 * (issue #25). So the job is registered under the version it waits for (`keys.parked`), and the
 * coordinator, as it publishes that version, takes the registrations and puts the jobs back in the
 * queue before it queues the next step's. The registration and a read of the run's version go in
 * one MULTI: either the publish comes after it and finds the job, or it came before and the
 * version read here shows it, and the job is promoted from here.
 */
export async function park(
  redis: Redis,
  keys: KeySchema,
  job: Job,
  token: string | undefined,
  wait: { runId: string; version: number; delayMs: number },
): Promise<Parked> {
  await job.moveToDelayed(Date.now() + wait.delayMs, token);
  const key = keys.parked(wait.runId, wait.version);
  const replies = await redis
    .multi()
    .sadd(key, String(job.id))
    .pexpire(key, PARKED_TTL_MS)
    .get(keys.paramsVersion(wait.runId))
    .exec();
  const published = replies?.[2]?.[1];
  if (typeof published !== 'string' || Number(published) < wait.version) return 'parked';
  // promoted already by the coordinator, or by BullMQ once its delay ran out: nothing left to do
  await job.promote().catch(() => undefined);
  return 'promoted';
}

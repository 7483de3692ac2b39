import type { Redis } from 'ioredis';

/**
 * The engine of a run (issue #22): gradients of the ONNX engine and of the reference engine agree to
 * about 1e-5 only, so a run whose shards mixed them would lose its bytes silently. The first shard
 * result written claims the run's engine (SET NX on `key`, KeySchema.runEngine); a worker whose
 * engine differs writes nothing and fails the job, so that a worker with the run's engine computes
 * it (the job's retries), or the run fails with the reason once none has.
 *
 * Returns the run's engine: `tag` when this claim was first or agreed.
 */
export async function claimEngine(redis: Redis, key: string, tag: string): Promise<string> {
  const replies = await redis.multi().set(key, tag, 'NX').get(key).exec();
  if (!replies) throw new Error(`claiming ${key}: the transaction was aborted`);
  for (const [err] of replies) if (err) throw err;
  return String(replies[1][1]);
}

/** Why a shard computed by `tag` is refused by a run that computes with `runEngine`. */
export function engineMismatch(job: string, runId: string, tag: string, runEngine: string): string {
  return (
    `job ${job}: computed by ${tag}, but run ${runId} computes with ${runEngine} (the engine of its first ` +
    `shards; their gradients differ in the last bits): a worker with ${runEngine} must compute it`
  );
}

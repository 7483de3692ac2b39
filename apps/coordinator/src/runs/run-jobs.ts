import type { Queue } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';

/** Keys matching `pattern` on every master (a Redis Cluster answers SCAN per node). */
export async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  for (const node of redis.isCluster ? (redis as unknown as Cluster).nodes('master') : [redis]) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
  }
  return found;
}

/**
 * Ids of every job of run `runId` in the shard queue, in any state. Every job id of a run starts
 * with `<run>-` (gradient `<run>-<step>-<shard>`, its straggler copies `...-r<n>`, reduce
 * `<run>-<step>-r<slice>`, evaluation `<run>-<split>-<version>-e<shard>`), and a job is a hash at
 * `<bull prefix>:<queue>:<job id>` (with `:lock` and `:logs` beside it).
 */
export async function runJobIds(redis: Redis, queue: Queue, runId: string): Promise<string[]> {
  const head = queue.toKey('');
  const keys = await scanKeys(redis, `${queue.toKey(`${runId}-`)}*`);
  return [...new Set(keys.map((k) => k.slice(head.length)).filter((id) => !id.includes(':')))];
}

/**
 * Remove every job of the run that is not running now: those of the current step, those queued
 * ahead for the next steps (by the driver or by reduce jobs), reduce, evaluation and straggler
 * jobs, and finished ones kept in the failed set. Scanning by the id prefix finds them all without
 * guessing steps. A job a worker holds cannot be removed (it is locked): it ends at its worker's
 * next look at the run's manifest, which is gone by then, and completes without a result.
 * Returns how many were removed.
 */
export async function removeRunJobs(redis: Redis, queue: Queue, runId: string): Promise<number> {
  const ids = await runJobIds(redis, queue, runId);
  const removed = await Promise.all(ids.map((id) => queue.remove(id).catch(() => 0)));
  return removed.reduce<number>((n, r) => n + r, 0);
}

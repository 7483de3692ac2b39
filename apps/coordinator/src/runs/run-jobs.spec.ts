import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { removeRunJobs, runJobIds } from './run-jobs';

describe('removeRunJobs on a real Redis', () => {
  const redis = new Redis(inject('redisUrl'));
  const prefix = `run-jobs-${randomUUID()}`;
  const queue = new Queue('shards', { connection: redis.duplicate(), prefix });
  afterAll(async () => {
    await queue.close();
    await redis.quit();
  });

  it("removes every job of the run by its id prefix (waiting, prioritized or delayed); other runs' stay", async () => {
    const run = 'a1b2c3d4e5f6';
    const other = 'a1b2c3d4e5f7';
    const job = (jobId: string, opts: object = {}) => ({ name: 'g', data: {}, opts: { jobId, ...opts } });
    await queue.addBulk([
      job(`${run}-0-0`),
      job(`${run}-1-1`, { priority: 2 }), // queued ahead, prioritized
      job(`${run}-7-r0`), // a reduce job
      job(`${run}-validation-4-e0`), // an evaluation
      job(`${run}-2-0-r1`, { delay: 60_000 }), // a straggler copy, delayed
      job(`${run}-3-0`),
      job(`${other}-0-0`),
    ]);
    const ids = await runJobIds(redis, queue, run);
    expect(ids.sort()).toEqual(
      [`${run}-0-0`, `${run}-1-1`, `${run}-2-0-r1`, `${run}-3-0`, `${run}-7-r0`, `${run}-validation-4-e0`].sort(),
    );
    expect(await removeRunJobs(redis, queue, run)).toBe(ids.length);
    expect(await runJobIds(redis, queue, run)).toEqual([]);
    expect(await redis.keys(`${prefix}:shards:${run}-*`)).toEqual([]);
    expect(await runJobIds(redis, queue, other)).toEqual([`${other}-0-0`]);
    expect(await queue.getJobCounts('wait', 'prioritized', 'delayed')).toEqual({ wait: 1, prioritized: 0, delayed: 0 });
  });
});

import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { promoteParked } from './parked-jobs';

describe('promoteParked on a real Redis', () => {
  const url = inject('redisUrl');
  const prefix = `parked-${randomUUID().slice(0, 8)}`;
  const opts = { connection: new Redis(url, { maxRetriesPerRequest: null }), prefix };
  const queue = new Queue('shards', opts);
  const worker = new Worker('shards', null, opts);
  afterAll(async () => {
    await Promise.all([worker.close(), queue.close()]);
    const left = await opts.connection.keys(`${prefix}:*`);
    if (left.length) await opts.connection.del(...left);
    await opts.connection.quit();
  });

  it('puts parked jobs back ahead of the next step, and skips ids not parked', async () => {
    // step 3's job gave up waiting and was parked for a minute (what a worker's park does)
    await queue.add('gradient', {}, { jobId: 'r-3-0', priority: 4 });
    const job = await worker.getNextJob('tok');
    await job!.moveToDelayed(Date.now() + 60_000, 'tok');
    expect(await queue.getJobState('r-3-0')).toBe('delayed');
    // version 3 is out: its parked job goes back, then step 4's jobs are queued
    expect(await promoteParked(queue, ['r-3-0', 'r-3-9'])).toBe(1);
    await queue.add('gradient', {}, { jobId: 'r-4-0', priority: 4 });
    expect((await worker.getNextJob('tok'))?.id).toBe('r-3-0');
    expect((await worker.getNextJob('tok'))?.id).toBe('r-4-0');
  });

  it('does nothing without registrations', async () => {
    expect(await promoteParked(queue, [])).toBe(0);
    expect(await promoteParked(queue, null)).toBe(0);
  });
});

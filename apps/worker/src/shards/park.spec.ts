import { KeySchema } from '@nnq/protocol';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { park } from './park';

describe('park on a real Redis', () => {
  const url = inject('redisUrl');
  const redis = new Redis(url);
  const keys = new KeySchema(`park-${randomUUID().slice(0, 8)}`);
  const opts = { connection: new Redis(url, { maxRetriesPerRequest: null }), prefix: keys.bullPrefix() };
  const queue = new Queue('shards', opts);
  const worker = new Worker('shards', null, opts);
  afterAll(async () => {
    await Promise.all([worker.close(), queue.close()]);
    const left = await redis.keys(`${keys.prefix}:*`);
    if (left.length) await redis.del(...left);
    await Promise.all([redis.quit(), opts.connection.quit()]);
  });

  /** Add a job and take it as a worker would: active, locked by `token`. */
  async function active(id: string, token: string): Promise<Job> {
    await queue.add('gradient', {}, { jobId: id, priority: 4 });
    const job = await worker.getNextJob(token);
    expect(job?.id).toBe(id);
    return job!;
  }

  it('parks a job whose parameters are not out, registered under their version', async () => {
    await redis.set(keys.paramsVersion('r1'), 2);
    const job = await active('r1-3-0', 'tok-a');
    const where = await park(redis, keys, job, 'tok-a', { runId: 'r1', version: 3, delayMs: 60_000 });
    expect(where).toBe('parked');
    expect(await queue.getJobState('r1-3-0')).toBe('delayed');
    expect(await redis.smembers(keys.parked('r1', 3))).toEqual(['r1-3-0']);
    expect(await redis.pttl(keys.parked('r1', 3))).toBeGreaterThan(0);
  });

  it('puts a job back in the queue at once when its version came out while it gave up', async () => {
    // the coordinator published 3 and took the registrations before this job registered
    await redis.set(keys.paramsVersion('r2'), 3);
    const job = await active('r2-3-1', 'tok-b');
    const where = await park(redis, keys, job, 'tok-b', { runId: 'r2', version: 3, delayMs: 60_000 });
    expect(where).toBe('promoted');
    expect(['waiting', 'prioritized']).toContain(await queue.getJobState('r2-3-1'));
  });
});

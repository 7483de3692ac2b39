import { loadConfig, redisOptions } from '@nnq/cluster';
import { KeySchema, SHARD_QUEUE } from '@nnq/protocol';
import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { until } from '../../../../test/support/processes';
import type { RunStore } from '../runs/run-store.service';
import type { WorkersService } from '../workers/workers.service';
import { EVENT_READ_GAP_MS, ShardEvents } from '../shard-events.service';
import { isRetry, QueueMetrics } from './queue.metrics';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('isRetry', () => {
  it('is a retry while attempts are left and the job is not in the failed set', () => {
    expect(isRetry({ attemptsMade: 1, opts: { attempts: 5 } }, 'delayed')).toBe(true);
    expect(isRetry({ attemptsMade: 4, opts: { attempts: 5 } }, 'waiting')).toBe(true);
    expect(isRetry({ attemptsMade: 5, opts: { attempts: 5 } }, 'failed')).toBe(false);
    expect(isRetry({ attemptsMade: 2, opts: { attempts: 5 } }, 'failed')).toBe(false); // unrecoverable
    expect(isRetry({ attemptsMade: 0, opts: { attempts: 5 } }, 'delayed')).toBe(false); // added with a delay
    expect(isRetry({ attemptsMade: 1, opts: {} }, 'delayed')).toBe(false);
  });
});

describe('QueueMetrics against Redis', () => {
  const url = inject('redisUrl');
  const keys = new KeySchema(`t-qm-${randomBytes(4).toString('hex')}`);
  const config = { ...loadConfig({}), REDIS_URL: url, NNQ_PREFIX: keys.prefix };
  const connection = redisOptions(url) as ConnectionOptions;
  const registry = new Registry();
  let redis: Redis;
  let queue: Queue;
  let metrics: QueueMetrics;
  let events: ShardEvents;
  const workers: Worker[] = [];
  let live = 2;
  let running = ['r1'];

  const value = async (name: string, labels = ''): Promise<number | undefined> => {
    const text = await registry.metrics();
    const m = text.match(new RegExp(`^${name}${labels ? `\\{${labels}\\}` : ''} (\\S+)$`, 'm'));
    return m ? Number(m[1]) : undefined;
  };

  beforeAll(async () => {
    redis = new Redis(url);
    queue = new Queue(SHARD_QUEUE, { connection, prefix: keys.bullPrefix() });
    const fakeWorkers = { list: async () => Array.from({ length: live }, (_, i) => ({ id: `w${i}` })) };
    const fakeRuns = { list: async () => running.map((id) => ({ id, state: 'running' })) };
    events = new ShardEvents(config, keys);
    metrics = new QueueMetrics(
      registry,
      redis,
      queue,
      fakeWorkers as unknown as WorkersService,
      fakeRuns as unknown as RunStore,
      events,
    );
    metrics.onApplicationBootstrap();
    await events.ready();
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close()));
    await events.onApplicationShutdown();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${keys.prefix}:*`, 'COUNT', 1000);
      if (found.length) await redis.del(...found);
      cursor = next;
    } while (cursor !== '0');
    await redis.quit();
  });

  it('reads queue depth, live workers, running runs and Redis at scrape time', async () => {
    expect(await value('nnq_queue_jobs', 'state="waiting"')).toBe(0);
    await queue.addBulk([1, 2, 3].map((i) => ({ name: 'shard', data: { i } })));
    await queue.add('later', {}, { delay: 60_000 });
    expect(await value('nnq_queue_jobs', 'state="waiting"')).toBe(3);
    expect(await value('nnq_queue_jobs', 'state="delayed"')).toBe(1);
    expect(await value('nnq_queue_jobs', 'state="prioritized"')).toBe(0);
    expect(await value('nnq_workers_live')).toBe(2);
    expect(await value('nnq_run_running', 'run="r1"')).toBe(1);
    expect(await value('nnq_redis_up')).toBe(1);
    live = 1;
    running = [];
    expect(await value('nnq_workers_live')).toBe(1);
    expect(await value('nnq_run_running', 'run="r1"')).toBeUndefined();
    await queue.obliterate({ force: true });
    expect(await value('nnq_queue_jobs', 'state="waiting"')).toBe(0);
  });

  it('counts failed attempts that go back to the queue as retried, not the final failure', async () => {
    const seen = new Map<string, number>();
    const w = new Worker(
      SHARD_QUEUE,
      async (job) => {
        const n = (seen.get(job.id!) ?? 0) + 1;
        seen.set(job.id!, n);
        if (job.name === 'flaky' && n <= 2) throw new Error(`attempt ${n} fails`);
        if (job.name === 'broken') throw new Error('always fails');
      },
      // no stalled check here: its throttle key would hold off the next test's checker for 30 s
      { connection, prefix: keys.bullPrefix(), skipStalledCheck: true },
    );
    workers.push(w);
    // events are read up to EVENT_READ_GAP_MS late, and a retry is told by the job's state then: a
    // backoff shorter than that could see the retry fail for good first (shard jobs back off >= 500 ms)
    const backoff = { type: 'fixed', delay: 2 * EVENT_READ_GAP_MS };
    await queue.add('flaky', {}, { attempts: 5, backoff });
    await queue.add('broken', {}, { attempts: 2, backoff });
    // flaky: 2 failed attempts retried; broken: 1 retried, then failed for good
    await until(async () => (await value('nnq_jobs_retried_total')) === 3, 10_000, 'three retries');
    await until(async () => (await queue.getJobCounts('failed')).failed === 1, 10_000, 'one failed job');
    await sleep(300);
    expect(await value('nnq_jobs_retried_total')).toBe(3);
    expect(await value('nnq_jobs_stalled_total')).toBe(0);
    await w.close();
  });

  it('counts a job whose lock expired as stalled', async () => {
    // take a job with a short lock and never renew it, as a worker that died would
    const dead = new Worker(SHARD_QUEUE, null, {
      connection,
      prefix: keys.bullPrefix(),
      lockDuration: 300,
      skipLockRenewal: true,
    });
    workers.push(dead);
    await queue.add('orphan', {});
    const job = await dead.getNextJob('dead-token');
    expect(job?.name).toBe('orphan');
    const rescuer = new Worker(SHARD_QUEUE, async () => undefined, {
      connection,
      prefix: keys.bullPrefix(),
      stalledInterval: 200,
    });
    workers.push(rescuer);
    await until(async () => (await value('nnq_jobs_stalled_total')) === 1, 10_000, 'one stalled job');
  });
});

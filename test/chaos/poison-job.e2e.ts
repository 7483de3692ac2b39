import { gradientJobId, KeySchema, SHARD_QUEUE } from '@nnq/protocol';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TestCluster } from '../support/cluster';
import { until, type AppProcess } from '../support/processes';
import { exampleConfig, submitRun, waitForRun } from '../support/runs';

// Issue #25: a shard whose worker dies while it holds it (here: SIGKILLed while it sleeps before
// the shard, as a worker killed by the kernel for its memory would be) runs on the next worker,
// which dies too. After NNQ_MAX_WORKER_DEATHS deaths the job fails for good instead of going on to
// the next worker, and the run fails with a reason naming the shard and its memory estimate.

describe('a job that kills its workers', () => {
  const redisUrl = inject('redisUrl');
  // 1 s locks: a dead worker's job is back in the queue within about 1.5 s
  const cluster = new TestCluster(redisUrl, 'poison', { NNQ_LOCK_DURATION_MS: '1000', NNQ_MAX_WORKER_DEATHS: '2' });
  const keys = new KeySchema(cluster.prefix);
  let queue: Queue;

  beforeAll(async () => {
    queue = new Queue(SHARD_QUEUE, {
      connection: new Redis(redisUrl, { maxRetriesPerRequest: null }),
      prefix: keys.bullPrefix(),
    });
    await cluster.startCoordinator();
  });

  afterAll(async () => {
    await queue?.close();
    await cluster.stop();
  });

  it('fails the run after 2 worker deaths, naming the shard and the memory it needs', async () => {
    // one step of one shard: one job, held by each worker for a minute before it computes
    const run = await submitRun(cluster.base, { ...exampleConfig('xor.json'), name: 'poison', shards: 1, steps: 1 });
    const id = gradientJobId(run.id, 0, 0);
    /** A worker that takes the job (its k-th start) and is killed holding it. */
    const dies = async (k: number): Promise<void> => {
      const w: AppProcess = await cluster.addWorker({ NNQ_CHAOS_SHARD_DELAY_MS: '60000' });
      const taken = async () => {
        const job = await queue.getJob(id);
        return job?.attemptsStarted === k && (await job.getState()) === 'active';
      };
      await until(taken, 30_000, `job ${id} taken for the ${k}. time`);
      await cluster.kill(w);
    };
    await dies(1);
    // the next worker's stalled check puts the job back (its lock lapsed), and it takes it in turn
    await dies(2);
    // a third, healthy worker finds the job stalled twice: it fails it without running it
    const healthy = await cluster.addWorker();
    const done = await waitForRun(cluster.base, run.id, 60_000);
    expect(done.state).toBe('failed');
    expect(done.error?.reason).toMatch(
      new RegExp(
        `^shard job ${id} failed for good: gradient shard 0 of step 0 was lost with its worker 2 ` +
          `times \\(job stalled more than allowable limit; NNQ_MAX_WORKER_DEATHS\\): by the run's ` +
          `estimate a 16-row shard needs about 1 MB \\(activations 1 MB, parameters 1 MB; ` +
          `NNQ_WORKER_MEMORY_MB is 2048 MB\\): give the workers more memory, or use smaller shards$`,
      ),
    );
    expect(healthy.child.exitCode).toBeNull();
  }, 150_000);
});

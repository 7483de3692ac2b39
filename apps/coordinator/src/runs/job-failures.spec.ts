import { lockSettings, redisOptions } from '@nnq/cluster';
import { gradientJobId, KeySchema, PLAN_MISMATCH, SHARD_QUEUE, type ShardJob } from '@nnq/protocol';
import { parseRunConfig, RunPlan, sliceRanges } from '@nnq/training';
import { Queue, QueueEvents, UnrecoverableError, Worker, type ConnectionOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobFailures, MAX_REPAIRS } from './job-failures';
import { ShardWaiter } from './shard-waiter';
import { reduceStep } from './step-jobs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The network: one hidden layer of 1,000,000 units; 1600 rows a step in 2 shards. */
const config = parseRunConfig({
  name: 'wide',
  dataset: { source: { type: 'synthetic', name: 'xor', n: 3200, seed: 1, task: 'regression' } },
  model: {
    inputSize: 2,
    layers: [
      { units: 1_000_000, activation: 'relu' },
      { units: 1, activation: 'identity' },
    ],
    loss: 'sum_of_squares',
  },
  optimizer: { type: 'sgd', lr: 0.1 },
  batchSize: 1600,
  shards: 2,
  steps: 10,
});
const plan = new RunPlan(3200, 1600, 2, 0, { steps: 10 });
/** What JobFailures reads of a run's setup: the plan, and 300 validation rows (one evaluation shard). */
const setup = {
  plan,
  paramCount: 4_000_001,
  splits: { train: new Uint32Array(3200), validation: new Uint32Array(300), test: new Uint32Array(0) },
};
const limits = { workerMemoryMb: 2048, maxWorkerDeaths: 2 };
/** The run's reason once MAX_REPAIRS (3) copies of a shard's job were squatted, up to the last refusal. */
const COPIES = "3 copies of its job were queued after jobs not in the run's plan took its ids";

/** A queue that records what is added. */
function fakeQueue() {
  const added: Array<{ name: string; data: ShardJob; opts: { jobId?: string } }> = [];
  const queue = {
    add: async (name: string, data: ShardJob, opts: { jobId?: string }) => {
      added.push({ name, data, opts });
      return {} as never;
    },
  };
  return { added, queue };
}

const mismatch = (id: string) =>
  `job ${id}: ${PLAN_MISMATCH} of run r1 (step 3, shard 1): start is 0, the plan says 800`;

describe('JobFailures: a job id taken by a job not in the plan', () => {
  it('queues the planned job again under <id>-f<n>, and the wait goes on', async () => {
    const { added, queue } = fakeQueue();
    const failures = new JobFailures(queue, limits);
    failures.track('r1', config, setup);
    const id = gradientJobId('r1', 3, 1);
    expect(await failures.handle(id, mismatch(id))).toEqual({ jobId: id });
    const r = plan.shardRange(3, 1);
    expect(added).toEqual([
      {
        name: 'gradient',
        data: {
          kind: 'gradient',
          runId: 'r1',
          step: 3,
          shard: 1,
          shards: 2,
          version: 3,
          epoch: r.epoch,
          start: r.start,
          end: r.end,
          ahead: true,
        },
        opts: expect.objectContaining({ jobId: 'r1-3-1-f1' }),
      },
    ]);
    // the copy's id squatted too: the next copy; its failure stands for the planned job's
    expect(await failures.handle('r1-3-1-f1', mismatch('r1-3-1-f1'))).toEqual({ jobId: id });
    expect(added.map((a) => a.opts.jobId)).toEqual(['r1-3-1-f1', 'r1-3-1-f2']);
  });

  it('queues a planned evaluation job again the same way; a shard past the split has none', async () => {
    const { added, queue } = fakeQueue();
    const failures = new JobFailures(queue, limits);
    failures.track('r1', config, setup);
    const id = 'r1-validation-5-e0';
    expect(await failures.handle(id, mismatch(id))).toEqual({ jobId: id });
    expect(added).toEqual([
      {
        name: 'evaluate',
        data: {
          kind: 'evaluate',
          runId: 'r1',
          evalId: 'validation-5',
          split: 'validation',
          shard: 0,
          version: 5,
          start: 0,
          end: 300,
        },
        opts: expect.objectContaining({ jobId: 'r1-validation-5-e0-f1' }),
      },
    ]);
    expect(await failures.handle('r1-validation-5-e1', mismatch('r1-validation-5-e1'))).toEqual({
      jobId: 'r1-validation-5-e1',
    });
    expect(added).toHaveLength(1);
  });

  it("queues a sliced run's planned reduce job again, only while the step waits for its slices", async () => {
    const { added, queue } = fakeQueue();
    const failures = new JobFailures(queue, limits);
    // 12 shards reduced in 3 slices of a 33-parameter network
    const sliced = parseRunConfig({
      ...config,
      model: {
        ...config.model,
        layers: [
          { units: 8, activation: 'tanh' },
          { units: 1, activation: 'identity' },
        ],
      },
      shards: 12,
      reduce: { slices: 3, sliceAbove: 8 },
    });
    const slicedPlan = new RunPlan(3200, 1600, 12, 0, { steps: 10 });
    failures.track('s1', sliced, { ...setup, plan: slicedPlan, paramCount: 33 });
    const id = 's1-3-r1';
    // not awaited yet: a copy now would find no state for step 3 and do nothing
    expect(await failures.handle(id, mismatch(id), () => false)).toEqual({ jobId: id });
    expect(added).toEqual([]);
    expect(await failures.handle(id, mismatch(id), (planned) => planned === id)).toEqual({ jobId: id });
    const planned = reduceStep('s1', sliced, slicedPlan, sliceRanges(33, 3), 3).jobs[1];
    expect(added).toEqual([{ name: 'reduce', data: planned.data, opts: { ...planned.opts, jobId: 's1-3-r1-f1' } }]);
    expect(planned.data).toMatchObject({ kind: 'reduce', step: 3, slice: 1, start: 16, end: 32, rows: 1600 });
  });

  it(`fails the run after ${MAX_REPAIRS} copies, naming the step, the shard and the last refusal`, async () => {
    const { added, queue } = fakeQueue();
    const failures = new JobFailures(queue, limits);
    failures.track('r1', config, setup);
    for (const id of ['r1-3-1', 'r1-3-1-f1', 'r1-3-1-f2']) await failures.handle(id, mismatch(id));
    // the same failure read again (its event, then a re-read of the job) is repaired once
    expect(await failures.handle('r1-3-1-f2', mismatch('r1-3-1-f2'))).toEqual({ jobId: 'r1-3-1' });
    const out = await failures.handle('r1-3-1-f3', mismatch('r1-3-1-f3'));
    expect(added).toHaveLength(MAX_REPAIRS);
    expect(out.jobId).toBe('r1-3-1');
    expect(out.reason).toMatch(new RegExp(`^step 3 shard 1: ${COPIES}; the last: job r1-3-1-f3: not in the run plan`));
  });

  it("leaves other runs' jobs, steps past the run's end and other failures alone", async () => {
    const { added, queue } = fakeQueue();
    const failures = new JobFailures(queue, limits);
    failures.track('r1', config, setup);
    expect(await failures.handle('r2-3-1', mismatch('r2-3-1'))).toEqual({
      jobId: 'r2-3-1',
      reason: mismatch('r2-3-1'),
    });
    expect(await failures.handle('r1-10-0', mismatch('r1-10-0'))).toEqual({ jobId: 'r1-10-0' });
    expect(await failures.handle('r1-3-1', 'boom')).toEqual({ jobId: 'r1-3-1', reason: 'boom' });
    failures.untrack('r1');
    expect(await failures.handle('r1-3-1', mismatch('r1-3-1'))).toEqual({
      jobId: 'r1-3-1',
      reason: mismatch('r1-3-1'),
    });
    expect(added).toEqual([]);
  });
});

describe('a shard job that kills its workers (against Redis)', () => {
  const url = inject('redisUrl');
  const keys = new KeySchema(`t-jf-${randomBytes(4).toString('hex')}`);
  const connection = redisOptions(url) as ConnectionOptions;
  let redis: Redis;
  let queue: Queue;
  let events: QueueEvents;
  const workers: Worker[] = [];

  beforeAll(async () => {
    redis = new Redis(url);
    queue = new Queue(SHARD_QUEUE, { connection, prefix: keys.bullPrefix() });
    events = new QueueEvents(SHARD_QUEUE, { connection, prefix: keys.bullPrefix() });
    await events.waitUntilReady();
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close(true)));
    await events.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    const left = await redis.keys(`${keys.prefix}:*`);
    if (left.length) await redis.del(...left);
    await redis.quit();
  });

  it('fails after NNQ_MAX_WORKER_DEATHS lost attempts; the run fails with the shard and its memory', async () => {
    const failures = new JobFailures(queue, limits);
    failures.track('r1', config, setup);
    const waiter = new ShardWaiter(redis, queue, events, 50, failures);
    const id = gradientJobId('r1', 3, 1);
    const wait = waiter.waitFor([keys.gradient('r1', 3, 1)], [id]);
    wait.catch(() => undefined);
    await queue.add('gradient', {}, { jobId: id });
    // what the shard processor's settings make of NNQ_MAX_WORKER_DEATHS=2: fail on the second stall
    const settings = lockSettings({ NNQ_MAX_WORKER_DEATHS: '2', NNQ_LOCK_DURATION_MS: '1000' });
    expect(settings.maxStalledCount).toBe(1);
    // a worker that takes the job and dies: its lock (300 ms) is never renewed
    const dying = new Worker(SHARD_QUEUE, null, {
      connection,
      prefix: keys.bullPrefix(),
      lockDuration: 300,
      skipLockRenewal: true,
    });
    // the stalled check of the live workers, with the shard processor's limit
    const checker = new Worker(SHARD_QUEUE, null, {
      connection,
      prefix: keys.bullPrefix(),
      stalledInterval: 150,
      maxStalledCount: settings.maxStalledCount,
      autorun: false,
    });
    workers.push(dying, checker);
    void checker.startStalledCheckTimer();
    let ran = 0;
    for (let death = 1; death <= 2; death++) {
      let job;
      for (let i = 0; i < 100 && !job; i++) job = (await dying.getNextJob(`dead-${death}`)) ?? (await sleep(50));
      expect(job?.id, `death ${death}`).toBe(id);
      // back in the queue once the checker saw its lock lapse
      for (let i = 0; i < 100 && (await queue.getJobState(id)) === 'active'; i++) await sleep(50);
    }
    // the next worker to take it fails it at once, without running it
    const next = new Worker(SHARD_QUEUE, async () => void ran++, { connection, prefix: keys.bullPrefix() });
    workers.push(next);
    await expect(wait).rejects.toThrow(
      new RegExp(
        String.raw`^shard job r1-3-1 failed for good: gradient shard 1 of step 3 was lost with its worker 2 times ` +
          String.raw`\(job stalled more than allowable limit; NNQ_MAX_WORKER_DEATHS\): by the run's estimate ` +
          String.raw`a 800-row shard needs about 18,494 MB \(activations 18,311 MB, parameters 184 MB; ` +
          String.raw`NNQ_WORKER_MEMORY_MB is 2048 MB\): give the workers more memory, or use smaller shards$`,
      ),
    );
    expect(ran).toBe(0);
    expect(await queue.getJobState(id)).toBe('failed');
    // the next test's jobs are not theirs
    await Promise.all([dying, checker, next].map((w) => w.close(true)));
  }, 30_000);

  it('reads back failures whose events never came: a squatted id repaired once, a failing copy fails', async () => {
    const failures = new JobFailures(queue, limits);
    failures.track('r2', config, setup);
    // no events at all: only the waiter's re-reads (every 10 polls of 20 ms) see the failures
    const waiter = new ShardWaiter(redis, queue, new EventEmitter() as unknown as QueueEvents, 20, failures);
    const id = gradientJobId('r2', 5, 0);
    const refuse = new Worker(
      SHARD_QUEUE,
      async (job) => {
        throw new UnrecoverableError(
          `job ${job.id}: ${PLAN_MISMATCH} of run r2 (step 5, shard 0): start is 1, the plan says 0`,
        );
      },
      { connection, prefix: keys.bullPrefix() },
    );
    workers.push(refuse);
    // the squatter's job fails before the coordinator's wait for step 5 begins
    await queue.add('gradient', {}, { jobId: id });
    for (let i = 0; i < 100 && (await queue.getJobState(id)) !== 'failed'; i++) await sleep(20);
    const wait = waiter.waitFor([keys.gradient('r2', 5, 0)], [id]);
    wait.catch(() => undefined);
    // its planned job went back under -f1 (and was refused again, by this worker); each failure
    // read back several times is repaired once: -f2, -f3, then the run fails
    await expect(wait).rejects.toThrow(
      new RegExp(
        `^shard job r2-5-0 failed for good: step 5 shard 0: ${COPIES}; the last: job r2-5-0-f3: not in the run plan`,
      ),
    );
    expect(failures.latestCopy(id)).toBe('r2-5-0-f3');
    expect(await queue.getJobState('r2-5-0-f4')).toBe('unknown');
  }, 30_000);
});

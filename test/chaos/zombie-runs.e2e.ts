import { createTrainingEngine } from '@nnq/engine-onnx';
import { gradientJobEntry, KeySchema, SHARD_QUEUE } from '@nnq/protocol';
import { initialParams, parseRunConfig, trainLocal } from '@nnq/training';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TestCluster } from '../support/cluster';
import { freePort } from '@nnq/launch';
import { getJson, startApp, stopApp, until } from '../support/processes';
import { exampleConfig, modelParams, submitRun, waitForRun, type RunView } from '../support/runs';

// Issue #25: every run ends, whatever goes wrong in it, and leaves no job looping in the queue.
// xor with Adam at lr 1e308 overflows its parameters in the first update.
const zombie = (extra: Record<string, unknown> = {}) => ({
  ...exampleConfig('xor.json'),
  name: 'overflow',
  optimizer: { type: 'adam', lr: 1e308 },
  ...extra,
});
// two spirals, 12 steps an epoch: trains beside them and must end with its fault-free bytes
const spirals = { ...exampleConfig('spirals.json'), name: 'beside', epochs: 3 };
const bytesOf = (p: Float32Array) => Buffer.from(p.buffer, p.byteOffset, p.byteLength);

describe('runs that cannot go on end, and leave nothing behind', () => {
  const redisUrl = inject('redisUrl');
  const cluster = new TestCluster(redisUrl, 'zombie');
  const redis = new Redis(redisUrl);
  const keys = new KeySchema(cluster.prefix);

  /** Jobs of the run in the shard queue, in any state (a job is a hash named by its id). */
  const jobsOf = async (id: string) =>
    (await redis.keys(`${keys.bullPrefix()}:${SHARD_QUEUE}:${id}-*`)).filter((k) => !/:(lock|logs)$/.test(k));
  const noJobsLeft = (id: string) => until(async () => (await jobsOf(id)).length === 0, 30_000, `no job of ${id}`);
  const del = (id: string) => fetch(`${cluster.base}/runs/${id}`, { method: 'DELETE' });
  /** `nnq rm` against this cluster's coordinator: exit code and output. */
  const rm = async (...ids: string[]) => {
    const p = startApp('cli', { NNQ_URL: cluster.base }, ['rm', ...ids]);
    return { code: await p.exited, output: p.output() };
  };

  beforeAll(async () => {
    await cluster.startCoordinator();
    await cluster.addWorker();
    await cluster.addWorker();
  });
  afterAll(async () => {
    redis.disconnect();
    await cluster.stop();
  });

  it('an overflow fails its run (fail, skip, sliced), weights finite; a spirals run beside keeps bytes', async () => {
    const beside = await submitRun(cluster.base, spirals);
    const submitted = Date.now();
    const fail = await submitRun(cluster.base, zombie());
    const skip = await submitRun(cluster.base, zombie({ onNonFinite: 'skip' }));
    const sliced = await submitRun(cluster.base, zombie({ reduce: { slices: 2, sliceAbove: 0 } }));
    const initial = bytesOf(initialParams(parseRunConfig(zombie())));

    const failed = await waitForRun(cluster.base, fail.id);
    const failedAfter = Date.now() - submitted;
    expect(failed.state).toBe('failed');
    expect(failed.error).toEqual({
      reason:
        'the update of step 0 made a parameter non-finite (learning rate too large?); ' +
        'the parameters of step 0 are kept',
      step: 0,
    });
    expect((await modelParams(cluster.base, fail.id)).equals(initial)).toBe(true);

    // skip: every step's update overflows; after 10 skipped in a row the run fails
    const skipped = await waitForRun(cluster.base, skip.id);
    expect(skipped.state).toBe('failed');
    expect(skipped.error!.reason).toMatch(/^10 steps in a row up to step 9 were non-finite and skipped; /);
    expect((skipped as RunView & { skippedSteps: number }).skippedSteps).toBe(9);
    expect((await modelParams(cluster.base, skip.id)).equals(initial)).toBe(true);

    // sliced: the reducers mark the overflow, the coordinator refuses to publish it
    const slicedDone = await waitForRun(cluster.base, sliced.id);
    expect(slicedDone.error).toEqual(failed.error);
    expect((await modelParams(cluster.base, sliced.id)).equals(initial)).toBe(true);

    for (const id of [fail.id, skip.id, sliced.id]) {
      await noJobsLeft(id);
      expect(await redis.exists(keys.runManifest(id))).toBe(0);
    }
    const goneAfter = Date.now() - submitted;
    console.log(`lr 1e308: failed ${failedAfter} ms after submission; no job of the three runs ${goneAfter} ms after`);
    // a job of the ended run queued late (a reduce job's share, a retry) completes at its pickup
    // without a result and leaves the queue: it neither fails nor retries
    const queue = new Queue(SHARD_QUEUE, { connection: redis.duplicate(), prefix: keys.bullPrefix() });
    const late = { kind: 'gradient', runId: fail.id, step: 5, shard: 0, shards: 2, version: 5 } as const;
    await queue.addBulk([gradientJobEntry({ ...late, epoch: 1, start: 0, end: 8 })]);
    await noJobsLeft(fail.id);
    await queue.close();

    const done = await waitForRun(cluster.base, beside.id, 200_000);
    expect(done.state).toBe('completed');
    const reference = bytesOf((await trainLocal(parseRunConfig(spirals), { engine: createTrainingEngine })).params);
    expect((await modelParams(cluster.base, beside.id)).equals(reference)).toBe(true);
    await noJobsLeft(beside.id);
  }, 300_000);

  it('cancel removes the manifest and jobs; DELETE, nnq rm refuse a running run (409), then remove all', async () => {
    const r = await submitRun(cluster.base, { ...spirals, name: 'to-cancel', epochs: 40 });
    await until(async () => (await getJson<RunView>(`${cluster.base}/runs/${r.id}`)).step >= 2, 60_000, 'step 2');
    const refused = await del(r.id);
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { message: string }).message).toMatch(
      /^run \w+ is running: cancel it first \(POST \/runs\/\w+\/cancel\), then remove it$/,
    );
    const rmRefused = await rm(r.id);
    expect(rmRefused.code).toBe(1);
    expect(rmRefused.output).toMatch(
      /^nnq rm: run \w+ is running: cancel it first \(POST \/runs\/\w+\/cancel\), then remove it\n$/,
    );

    const cancelledAt = Date.now();
    const cancel = await fetch(`${cluster.base}/runs/${r.id}/cancel`, { method: 'POST' });
    expect(((await cancel.json()) as RunView).state).toBe('cancelled');
    expect(await redis.exists(keys.runManifest(r.id))).toBe(0);
    await noJobsLeft(r.id);
    console.log(`cancel: answered, and no job of the run left, ${Date.now() - cancelledAt} ms after the request`);

    const failed = await submitRun(cluster.base, zombie());
    await waitForRun(cluster.base, failed.id);
    const runDir = join(cluster.dataDir, 'runs', failed.id);
    expect(existsSync(join(runDir, 'model.safetensors'))).toBe(true);
    expect((await del(r.id)).status).toBe(204);
    expect(await rm(failed.id)).toEqual({ code: 0, output: `removed run ${failed.id}\n` });
    for (const id of [r.id, failed.id]) {
      expect((await fetch(`${cluster.base}/runs/${id}`)).status).toBe(404);
      expect(await redis.keys(`${cluster.prefix}:{run:${id}}:*`)).toEqual([]);
      expect(await redis.zscore(keys.runs(), id)).toBeNull();
      expect(await jobsOf(id)).toEqual([]);
      expect(existsSync(join(cluster.dataDir, 'runs', id))).toBe(false);
    }
    expect((await del(r.id)).status).toBe(404);
    const docs = await getJson<{ paths: Record<string, { delete?: { responses: object } }> }>(
      `${cluster.base}/docs-json`,
    );
    expect(Object.keys(docs.paths['/runs/{id}'].delete!.responses).sort()).toEqual(['204', '404', '409']);
    const unknown = await rm(r.id);
    expect(unknown.code).toBe(2);
    expect(unknown.output).toMatch(
      /^nnq rm: no run "\w+" at http:\/\/127\.0\.0\.1:\d+ \(nnq status lists the runs\)\n$/,
    );
  }, 180_000);

  it('a coordinator that boots clears the keys and jobs of a run that ended without its clean-up', async () => {
    // what a coordinator killed between saving a run's end and deleting its keys leaves
    const id = 'feedfacecafe';
    const record = { id, name: 'left', state: 'failed', createdAt: new Date().toISOString(), step: 3 };
    await redis.set(keys.runState(id), JSON.stringify(record));
    await redis.zadd(keys.runs(), Date.now(), id);
    await redis.set(keys.runManifest(id), '{}');
    await redis.set(keys.paramsVersion(id), '3');
    const queue = new Queue(SHARD_QUEUE, { connection: redis.duplicate(), prefix: keys.bullPrefix() });
    const ahead = { kind: 'gradient', runId: id, step: 4, shard: 0, shards: 2, version: 4 } as const;
    await queue.addBulk([gradientJobEntry({ ...ahead, epoch: 1, start: 0, end: 8, ahead: true })]);
    await queue.close();
    await stopApp(cluster.coordinator!);
    await cluster.startCoordinator();
    await until(async () => (await redis.exists(keys.runManifest(id))) === 0, 30_000, 'the manifest to go');
    await noJobsLeft(id);
    expect(await redis.keys(`${cluster.prefix}:{run:${id}}:*`)).toEqual([keys.runState(id)]);
    expect((await getJson<RunView>(`${cluster.base}/runs/${id}`)).state).toBe('failed');
  }, 120_000);
});

describe('nnq up', () => {
  it('stops its workers and the Redis it started when its coordinator is SIGKILLed, and says so', async () => {
    const port = String(await freePort());
    const p = startApp('cli', { REDIS_URL: 'redis://127.0.0.1:1', NNQ_PORT: port }, ['up', '--workers', '2']);
    await p.waitFor(/local cluster is up \(2 workers\)/, 60_000);
    const [, redisUrl] = p.output().match(/throwaway redis-server at (\S+) \(pid \d+\)/)!;
    const workers = await getJson<{ pid: number }[]>(`http://127.0.0.1:${port}/workers`);
    expect(workers).toHaveLength(2);
    const coordinatorPid = Number(p.output().match(/coordinator\[(\d+)\]/)![1]);
    const killedAt = Date.now();
    process.kill(coordinatorPid, 'SIGKILL');
    expect(await p.exited).toBe(70);
    const stoppedAfter = Date.now() - killedAt;
    console.log(`nnq up stopped its workers and Redis and exited ${stoppedAfter} ms after the coordinator's SIGKILL`);
    expect(p.output()).toMatch(
      /nnq up: coordinator exited \(SIGKILL\); stopping the workers and the Redis nnq started\n/,
    );
    // gone, or a zombie until reaped by whoever adopted it
    const gone = (pid: number) => {
      try {
        return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return true;
      }
    };
    for (const w of workers) expect(gone(w.pid)).toBe(true);
    const redisDown = await new Promise<boolean>((r) => {
      const s = connect(Number(new URL(redisUrl).port), '127.0.0.1');
      s.once('connect', () => (s.destroy(), r(false)));
      s.once('error', () => r(true));
    });
    expect(redisDown).toBe(true);
  }, 120_000);
});

describe('a run whose model cannot be written', () => {
  it('ends failed with the reason, and leaves no manifest and no job', async () => {
    const redisUrl = inject('redisUrl');
    // NNQ_DATA_DIR names a file: no checkpoint or model can be written under it
    const file = join(mkdtempSync(join(tmpdir(), 'nnq-unwritable-')), 'not-a-dir');
    writeFileSync(file, '');
    const cluster = new TestCluster(redisUrl, 'unwritable', { NNQ_DATA_DIR: file });
    const redis = new Redis(redisUrl);
    try {
      await cluster.startCoordinator();
      await cluster.addWorker();
      const r = await submitRun(cluster.base, { ...exampleConfig('xor.json'), steps: 8 });
      const done = await waitForRun(cluster.base, r.id);
      expect(done.state).toBe('failed');
      expect(done.error!.reason).toMatch(/ENOTDIR.*; its model could not be written: ENOTDIR/);
      const keys = new KeySchema(cluster.prefix);
      expect(await redis.exists(keys.runManifest(r.id))).toBe(0);
      const jobs = () => redis.keys(`${keys.bullPrefix()}:${SHARD_QUEUE}:${r.id}-*`);
      await until(async () => (await jobs()).length === 0, 30_000, 'no job of the run');
    } finally {
      redis.disconnect();
      await cluster.stop();
    }
  }, 120_000);
});

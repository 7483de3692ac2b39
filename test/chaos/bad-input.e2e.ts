import { loadDataset } from '@nnq/data';
import { KeySchema, SHARD_QUEUE } from '@nnq/protocol';
import { parseRunConfig, setupRun, type RunManifest } from '@nnq/training';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { getJson, startApp, stopApp, uniquePrefix, until, type AppProcess } from '../support/processes';
import { deleteKeys } from '../support/redis';
import { exampleConfig, submitRun, waitForRun } from '../support/runs';

// Issue #7, bad input: every refused request names its problem by path, no process crashes,
// and nothing of a refused request is left behind (no run, no dataset).

import { httpCases, type HttpCase } from './bad-input/http-cases';
import { jobCases as forgedJobCases } from './bad-input/job-cases';
import { patch } from './bad-input/patch';

describe('bad input is refused with a precise message and breaks nothing', () => {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('badinput');
  const keys = new KeySchema(prefix);
  const dataDir = mkdtempSync(join(tmpdir(), 'nnq-badinput-'));
  const files = join(dataDir, 'files');
  const env = { REDIS_URL: redisUrl, NNQ_PREFIX: prefix, NNQ_DATA_DIR: dataDir, NNQ_HEARTBEAT_TTL_MS: '2000' };
  const xor = patch(exampleConfig('xor.json'), { steps: 20 });
  const forgedRun = `forged-${prefix.slice(-8)}`;
  let coordinator: AppProcess;
  let worker: AppProcess;
  let base = '';
  let workerBase = '';
  let redis: Redis;
  let queue: Queue;
  let trainedRun = '';
  let datasetsBefore: string[] = [];
  const file = (name: string) => join(files, name);

  beforeAll(async () => {
    mkdirSync(files);
    writeFileSync(file('ragged.csv'), 'x1,x2,y\n0,0,0\n1,1\n');
    writeFileSync(file('nonnum.csv'), 'x1,x2,y\n0,0,0\n1,abc,1\n');
    writeFileSync(file('good.csv'), 'x1,x2,y\n0,0,0\n1,1,1\n');
    writeFileSync(file('empty.csv'), '');
    writeFileSync(file('ragged.json'), '[{"x1": 0, "x2": 0, "y": 0},\n {"x1": 1, "y": 1}]\n');
    // IDX: magic 00 00 08 02 (uint8, 2 dims), dims [4, 2], 8 bytes; the bad one starts 08 08
    const imageBytes = Buffer.from([0, 0, 8, 2, 0, 0, 0, 4, 0, 0, 0, 2, 0, 1, 1, 0, 0, 1, 1, 1]);
    const labelBytes = Buffer.from([0, 0, 8, 1, 0, 0, 0, 4, 0, 1, 1, 0]);
    writeFileSync(file('images.idx'), imageBytes);
    writeFileSync(file('labels.idx'), labelBytes);
    writeFileSync(file('badmagic.idx'), Buffer.concat([Buffer.from([8, 8]), imageBytes.subarray(2)]));
    const gz = gzipSync(labelBytes);
    writeFileSync(file('truncated.idx.gz'), gz.subarray(0, gz.length - 12));

    redis = new Redis(redisUrl);
    queue = new Queue(SHARD_QUEUE, {
      connection: new Redis(redisUrl, { maxRetriesPerRequest: null }),
      prefix: keys.bullPrefix(),
    });
    coordinator = startApp('coordinator', { ...env, NNQ_PORT: '0' });
    worker = startApp('worker', env);
    const [, port] = await coordinator.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
    const [, workerPort] = await worker.waitFor(/serving \/health and \/metrics on http:\/\/127\.0\.0\.1:(\d+)/);
    base = `http://127.0.0.1:${port}`;
    workerBase = `http://127.0.0.1:${workerPort}`;
    // a trained model for the predict cases
    const run = await submitRun(base, xor);
    expect((await waitForRun(base, run.id, 120_000)).state).toBe('completed');
    trainedRun = run.id;
    datasetsBefore = (await redis.smembers(keys.datasetIds())).sort();

    // a run known to the queue's Redis but not to the coordinator: forged jobs against it reach
    // the worker's range checks (its manifest and splits are what the coordinator would publish)
    const config = parseRunConfig(xor);
    const setup = setupRun(config, loadDataset(config.dataset.source!));
    const manifest: RunManifest = {
      runId: forgedRun,
      spec: config.model,
      datasetId: datasetsBefore[0],
      preprocessing: setup.preprocessing,
      seed: config.seed,
      batchSize: config.batchSize,
      shards: config.shards,
      paramCount: setup.paramCount,
      splitRows: {
        train: setup.splits.train.length,
        validation: setup.splits.validation.length,
        test: setup.splits.test.length,
      },
    };
    const blob = (a: Uint32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    await redis
      .multi()
      .set(keys.runManifest(forgedRun), JSON.stringify(manifest))
      .set(keys.runSplit(forgedRun, 'train'), blob(setup.splits.train))
      .set(keys.runSplit(forgedRun, 'validation'), blob(setup.splits.validation))
      .set(keys.runSplit(forgedRun, 'test'), blob(setup.splits.test))
      .exec();
  });

  afterAll(async () => {
    await Promise.all([worker, coordinator].filter(Boolean).map((p) => stopApp(p)));
    await queue?.close();
    if (redis) {
      await deleteKeys(redis, `${prefix}:*`);
      await redis.quit();
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  const cases = httpCases({ xor, files, file, trainedRun: () => trainedRun });

  const send = async (c: HttpCase): Promise<Response> => {
    const path = typeof c.path === 'function' ? c.path() : (c.path ?? '/runs');
    const method = c.method ?? 'POST';
    const body = c.body === undefined ? undefined : c.raw ? (c.body as string) : JSON.stringify(c.body);
    return fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': c.contentType ?? 'application/json' },
      body,
    });
  };

  it.each(cases)('refuses $name', async (c) => {
    const res = await send(c);
    const text = await res.text();
    expect(res.status, text).toBe(c.status);
    const body = JSON.parse(text) as { message?: string | string[]; problems?: string[] };
    const lines = body.problems ?? [body.message].flat();
    expect(lines, text).toContainEqual(expect.stringMatching(c.message));
  });

  it('refuses an oversized body (> 16 MB) with 413', async () => {
    const res = await send({
      name: 'oversized',
      body: patch(xor, { pad: 'x'.repeat(17 << 20) }),
      status: 413,
      message: /./,
    });
    expect(res.status).toBe(413);
    expect(await res.text()).toMatch(/request entity too large/i);
  });

  const jobCases = forgedJobCases(forgedRun);

  it(`fails ${jobCases.length} forged job payloads for good, naming the problem, and the worker stays up`, async () => {
    const added = await Promise.all(
      jobCases.map((c, i) =>
        queue.add('gradient', c.data, {
          jobId: `${prefix}-forged-${i}`,
          attempts: 3,
          backoff: { type: 'fixed', delay: 0 },
        }),
      ),
    );
    for (const [i, c] of jobCases.entries()) {
      const job = await until(
        async () => {
          const j = await queue.getJob(added[i].id!);
          return j?.finishedOn ? j : undefined;
        },
        20_000,
        `forged job "${c.name}" to end`,
      );
      expect(await job.getState(), c.name).toBe('failed');
      expect(job.failedReason, c.name).toMatch(c.failedReason);
      expect(job.attemptsMade, `${c.name}: not retried`).toBe(1);
    }
    expect(worker.child.exitCode).toBeNull();
    expect((await getJson<{ status: string }>(`${workerBase}/health`)).status).toBe('ok');
  });

  it('leaves both processes alive, no run or dataset of a refused request, and still trains', async () => {
    expect(coordinator.child.exitCode).toBeNull();
    expect(worker.child.exitCode).toBeNull();
    expect((await getJson<{ status: string }>(`${base}/health`)).status).toBe('ok');
    expect((await getJson<{ status: string }>(`${workerBase}/health`)).status).toBe('ok');
    const runs = await getJson<{ id: string }[]>(`${base}/runs`);
    expect(runs.map((r) => r.id)).toEqual([trainedRun]);
    expect((await redis.smembers(keys.datasetIds())).sort()).toEqual(datasetsBefore);
    const run = await submitRun(base, xor);
    const done = await waitForRun(base, run.id, 120_000);
    expect(done.state).toBe('completed');
    expect(done.step).toBe(20);
    expect(coordinator.output()).not.toMatch(/driver crashed|Unhandled|ERROR \[ExceptionsHandler\]/);
  });
});

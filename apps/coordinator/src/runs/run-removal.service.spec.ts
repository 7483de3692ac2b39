import type { HttpException } from '@nestjs/common';
import type { NnqConfig } from '@nnq/cluster';
import { KeySchema } from '@nnq/protocol';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { FileRunBlobs, RedisRunBlobs } from './run-blobs';
import { runDir } from './run-files';
import type { RunRecord, RunState } from '@nnq/protocol';
import { RunRemoval } from './run-removal.service';
import { RunStore } from './run-store.service';

const DAY = 24 * 60 * 60 * 1000;

describe('RunRemoval on a real Redis', () => {
  const redis = new Redis(inject('redisUrl'));
  const keys = new KeySchema(`run-removal-${randomUUID().slice(0, 8)}`);
  const queue = new Queue('shards', { connection: redis.duplicate(), prefix: keys.bullPrefix() });
  const dataDir = mkdtempSync(join(tmpdir(), 'nnq-removal-'));
  const store = new RunStore(redis, keys);
  const removal = (days: number) =>
    new RunRemoval(redis, { NNQ_RUN_RETENTION_DAYS: days, NNQ_DATA_DIR: dataDir } as NnqConfig, queue, store);
  afterAll(async () => {
    await queue.close();
    await redis.quit();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /**
   * A run created `ageDays` ago, finished `finishedDays` ago, with keys, a job, and a model and a
   * checkpoint in both stores (Redis and NNQ_DATA_DIR: a store switched between coordinators leaves nothing).
   */
  async function seed(id: string, state: RunState, ageDays: number, finishedDays?: number): Promise<void> {
    const now = Date.now();
    const record = {
      id,
      name: id,
      state,
      createdAt: new Date(now - ageDays * DAY).toISOString(),
      ...(finishedDays !== undefined ? { finishedAt: new Date(now - finishedDays * DAY).toISOString() } : {}),
    } as RunRecord;
    await store.create(record, { name: id } as never);
    const entry = { type: 'step', step: 0, epoch: 0, loss: 1, accuracy: 0, lr: 0, gradNorm: 0, seconds: 0 } as const;
    await store.saveProgress(record, [entry]);
    await redis.set(keys.params(id, 3), 'p');
    await queue.add('g', {}, { jobId: `${id}-9-0`, delay: 60_000 });
    for (const blobs of [new RedisRunBlobs(redis, keys), new FileRunBlobs(dataDir)]) {
      await blobs.saveModel(id, Buffer.from('model'));
      await blobs.saveCheckpoint(id, 5, Buffer.from('checkpoint'));
    }
  }
  const left = async (id: string) => ({
    keys: (await redis.keys(`${keys.prefix}:{run:${id}}:*`)).length,
    indexed: (await redis.zscore(keys.runs(), id)) !== null,
    job: !!(await queue.getJob(`${id}-9-0`)),
    files: existsSync(runDir(dataDir, id)),
  });
  const nothing = { keys: 0, indexed: false, job: false, files: false };

  it('removes a finished run and all it stored; refuses a running one with 409, an unknown one with 404', async () => {
    await seed('aaaaaaaaaaa1', 'failed', 1, 1);
    await seed('aaaaaaaaaaa2', 'running', 1);
    await removal(30).remove('aaaaaaaaaaa1');
    expect(await left('aaaaaaaaaaa1')).toEqual(nothing);
    const running = (await removal(30)
      .remove('aaaaaaaaaaa2')
      .catch((e: unknown) => e)) as HttpException;
    expect(running.getStatus()).toBe(409);
    expect(running.message).toMatch(
      /^run aaaaaaaaaaa2 is running: cancel it first \(POST \/runs\/aaaaaaaaaaa2\/cancel\), then remove it$/,
    );
    // state, config, history, params; model, checkpoint and its index
    expect(await left('aaaaaaaaaaa2')).toEqual({ keys: 7, indexed: true, job: true, files: true });
    const unknown = (await removal(30)
      .remove('aaaaaaaaaaa9')
      .catch((e: unknown) => e)) as HttpException;
    expect(unknown.getStatus()).toBe(404);
    expect(unknown.message).toMatch(/^no run with id "aaaaaaaaaaa9"$/);
  });

  it('removes finished runs past the retention, keeps newer, unfinished ones, and all with 0 days', async () => {
    await seed('bbbbbbbbbbb1', 'completed', 40, 31); // finished 31 days ago: removed
    await seed('bbbbbbbbbbb2', 'cancelled', 40, 29); // created long ago, finished 29 days ago: kept
    await seed('bbbbbbbbbbb3', 'running', 40); // still running: kept
    await seed('bbbbbbbbbbb4', 'completed', 2, 1); // new: kept
    expect(await removal(0).removeExpired()).toEqual([]);
    expect(await removal(30).removeExpired()).toEqual(['bbbbbbbbbbb1']);
    expect(await left('bbbbbbbbbbb1')).toEqual(nothing);
    for (const id of ['bbbbbbbbbbb2', 'bbbbbbbbbbb3', 'bbbbbbbbbbb4']) expect((await left(id)).indexed).toBe(true);
    // two days on, the cancelled one is past it too
    expect(await removal(30).removeExpired(Date.now() + 2 * DAY)).toEqual(['bbbbbbbbbbb2']);
  });
});

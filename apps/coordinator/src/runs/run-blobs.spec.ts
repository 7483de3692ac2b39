import { KeySchema } from '@nnq/protocol';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from './checkpoint';
import { CHECKPOINTS_KEPT, createRunBlobs, FileRunBlobs, RedisRunBlobs, type RunBlobs } from './run-blobs';
import { runDir } from './run-files';
import { RunStore } from './run-store.service';

const redis = new Redis(inject('redisUrl'));
const keys = new KeySchema(`run-blobs-${randomUUID().slice(0, 8)}`);
const dataDir = mkdtempSync(join(tmpdir(), 'nnq-blobs-'));
afterAll(async () => {
  await redis.quit();
  rmSync(dataDir, { recursive: true, force: true });
});

const checkpoint = (step: number): Checkpoint => ({
  runId: 'r1',
  step,
  params: Float32Array.of(step, -0.5, 3e-8),
  optimizer: Uint8Array.of(1, 2, 3, step),
  skippedSteps: 1,
});

describe.each([
  ['redis', () => new RedisRunBlobs(redis, keys)],
  ['files', () => new FileRunBlobs(dataDir)],
])('RunBlobs (%s)', (kind, make: () => RunBlobs) => {
  const id = `run-${kind}`;

  it(`keeps the newest ${CHECKPOINTS_KEPT} checkpoints of a run, newest first, bytes as written`, async () => {
    const blobs = make();
    expect(await blobs.checkpoints(id)).toEqual([]);
    for (const step of [10, 20, 30]) await blobs.saveCheckpoint(id, step, encodeCheckpoint(checkpoint(step)));
    const stored = await blobs.checkpoints(id);
    expect(stored.map((c) => c.step)).toEqual([30, 20]);
    expect(decodeCheckpoint(stored[0].bytes, stored[0].where)).toEqual(checkpoint(30));
    expect(stored[1].bytes.equals(encodeCheckpoint(checkpoint(20)))).toBe(true);
    // another run's checkpoints are its own
    expect(await blobs.checkpoints(`${id}-other`)).toEqual([]);
  });

  it('stores one model per run, replaced by the next', async () => {
    const blobs = make();
    expect(await blobs.model(id)).toBeNull();
    await blobs.saveModel(id, Uint8Array.of(1, 2, 3));
    await blobs.saveModel(id, Uint8Array.of(4, 5));
    expect([...(await blobs.model(id))!]).toEqual([4, 5]);
  });
});

describe('where the stores keep things', () => {
  it('redis: in the run hash slot ({run:<id>}), nothing on disk', async () => {
    const blobs = new RedisRunBlobs(redis, keys);
    await blobs.saveCheckpoint('r2', 3, Buffer.from('x'));
    await blobs.saveModel('r2', Buffer.from('m'));
    expect((await redis.keys(`${keys.prefix}:{run:r2}:*`)).sort()).toEqual([
      keys.runCheckpoint('r2', 3),
      keys.runCheckpoints('r2'),
      keys.runModel('r2'),
    ]);
  });

  it("redis: a run's end deletes its checkpoints with the transient keys; the model stays", async () => {
    const blobs = new RedisRunBlobs(redis, keys);
    await blobs.saveCheckpoint('r4', 3, Buffer.from('x'));
    await blobs.saveModel('r4', Buffer.from('m'));
    await new RunStore(redis, keys).deleteTransient('r4');
    expect(await blobs.checkpoints('r4')).toEqual([]);
    expect(await redis.keys(`${keys.prefix}:{run:r4}:*`)).toEqual([keys.runModel('r4')]);
  });

  it('files: NNQ_DATA_DIR/runs/<id>/checkpoint-<step>.bin and model.safetensors', async () => {
    const blobs = new FileRunBlobs(dataDir);
    await blobs.saveCheckpoint('r3', 7, Buffer.from('x'));
    await blobs.saveModel('r3', Buffer.from('m'));
    expect(readdirSync(runDir(dataDir, 'r3')).sort()).toEqual(['checkpoint-7.bin', 'model.safetensors']);
  });

  it('NNQ_RUN_STORE picks the store', () => {
    expect(createRunBlobs({ NNQ_RUN_STORE: 'redis', NNQ_DATA_DIR: dataDir }, redis, keys).kind).toBe('redis');
    expect(createRunBlobs({ NNQ_RUN_STORE: 'files', NNQ_DATA_DIR: dataDir }, redis, keys).kind).toBe('files');
  });
});

describe('decodeCheckpoint', () => {
  const good = encodeCheckpoint(checkpoint(4));
  it.each([
    ['truncated', good.subarray(0, 2), /^where: checkpoint is truncated$/],
    ['a header cut short', good.subarray(0, 20), /^where: checkpoint header is truncated$/],
    ['a body cut short', good.subarray(0, good.length - 1), /^where: checkpoint body is truncated$/],
    ['a flipped bit', Buffer.from(good).fill(0x7f, good.length - 2, good.length - 1), /checksum mismatch$/],
  ])('refuses %s, naming where it came from', (_, bytes, message) => {
    expect(() => decodeCheckpoint(bytes, 'where')).toThrow(message);
  });
});

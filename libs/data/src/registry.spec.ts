import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { KeySchema } from '@nnq/protocol';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { hasTool } from '../../../test/support/tools';
import type { Dataset } from './dataset';
import { DatasetCache } from './dataset-cache';
import { DataError } from './errors';
import { datasetHash } from './hash';
import { dataFileAccess } from './file-access';
import { loadDataset } from './load';
import { fitPreprocessing, gatherBatch } from './preprocessing';
import {
  deleteDataset,
  getDatasetMeta,
  listDatasets,
  registerDataset,
  registerSource,
  type RedisClient,
} from './registry';
import { fashionMnistSource, type DatasetSourceInput } from './source';

let redis: Redis;
let prefix: string;
const dir = mkdtempSync(join(tmpdir(), 'nnq-registry-'));
// the temp dir is this test's data root
const access = dataFileAccess({ dataRoots: dir });

beforeAll(() => {
  redis = new Redis(inject('redisUrl'), { lazyConnect: false, maxRetriesPerRequest: 3 });
});
afterAll(async () => {
  await redis.quit();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  const keys = await allKeys();
  if (keys.length) await redis.del(...keys);
});

function newPrefix(): string {
  prefix = `test-data-${randomUUID()}`; // a valid NNQ_PREFIX (KeySchema checks it)
  return prefix;
}

async function allKeys(): Promise<string[]> {
  if (!prefix) return [];
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/** A uint8 image-like dataset: 50 rows of 12 pixels, 3 classes. */
function uint8Dataset(): Dataset {
  const rows = 50;
  const x = new Uint8Array(rows * 12).map((_, i) => (i * 37) % 256);
  const labels = new Uint8Array(rows).map((_, i) => i % 3);
  return {
    rows,
    features: 12,
    featureShape: [3, 4],
    x,
    targets: { kind: 'labels', data: labels, width: 3 },
    task: 'classification',
    classes: ['a', 'b', 'c'],
    source: { type: 'synthetic', name: 'xor', n: 4, seed: 0, noise: 0, task: 'classification' },
  };
}

describe('dataset registry', () => {
  it('stores uint8 as uint8 in row chunks, meta last, idempotently', async () => {
    const p = newPrefix();
    const d = uint8Dataset();
    // record the order of writes: every chunk before the meta key
    const order: string[] = [];
    const spy = new Proxy(redis, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (prop === 'set' && typeof v === 'function') {
          return (key: string, ...args: unknown[]) => {
            order.push(key);
            return (v as (...a: unknown[]) => unknown).call(target, key, ...args);
          };
        }
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as RedisClient;
    // 13 bytes a row; 130-byte chunks hold 10 rows
    const reg = await registerDataset(spy, p, d, { chunkBytes: 130, name: 'pixels' });
    expect(reg.created).toBe(true);
    expect(reg.id).toMatch(/^[0-9a-f]{64}$/);
    expect(reg.id).toBe(datasetHash(d));
    expect(reg.meta).toMatchObject({
      rows: 50,
      dtype: 'uint8',
      chunkRows: 10,
      storage: 'redis',
      classes: ['a', 'b', 'c'],
    });
    expect(reg.meta.chunks).toHaveLength(5);
    expect(reg.meta.statistics.classCounts).toEqual([17, 17, 16]);
    expect(order[order.length - 1]).toBe(new KeySchema(p).datasetMeta(reg.id));
    expect(order).toHaveLength(6);
    expect(await redis.strlen(new KeySchema(p).datasetChunk(reg.id, 0))).toBe(10 * 12 + 10);
    expect(await listDatasets(redis, p)).toEqual([reg.id]);

    const again = await registerDataset(redis, p, d, { chunkBytes: 130 });
    expect(again).toMatchObject({ id: reg.id, created: false });
    expect(again.meta.registeredAt).toBe(reg.meta.registeredAt);

    await deleteDataset(redis, p, reg.id);
    expect(await allKeys()).toEqual([]);
  });

  it('a worker fetches each chunk once, verifies it and gathers what the in-memory dataset gives', async () => {
    const p = newPrefix();
    const d = loadDataset({ type: 'synthetic', name: 'blobs', n: 300, seed: 2, centers: 4, features: 5 });
    const { id } = await registerDataset(redis, p, d, { chunkBytes: 1000 });
    const meta = (await getDatasetMeta(redis, p, id))!;
    const pre = fitPreprocessing(
      d,
      Array.from({ length: 200 }, (_, i) => i),
      { standardize: true },
    );
    const cache = new DatasetCache(redis, p);
    const indices = Uint32Array.from([299, 0, 150, 7, 42, 298]);
    const want = gatherBatch(d, indices, pre);
    const got = await cache.gatherBatch(id, indices, pre);
    expect(got.x).toEqual(want.x);
    expect(got.y).toEqual(want.y);
    const fetched = cache.stats.chunkFetches;
    expect(fetched).toBe(new Set([...indices].map((r) => Math.floor(r / meta.chunkRows))).size);
    await cache.gatherBatch(id, indices, pre);
    expect(cache.stats.chunkFetches).toBe(fetched);
    // the whole dataset round-trips to the same content hash
    const whole = await cache.dataset(id);
    expect(datasetHash(whole)).toBe(id);
    expect(cache.stats.chunkFetches).toBe(meta.chunks.length);
  });

  it('keeps the cache within its byte bound (LRU) and stays correct', async () => {
    const p = newPrefix();
    const d = uint8Dataset();
    const { id } = await registerDataset(redis, p, d, { chunkBytes: 130 });
    const cache = new DatasetCache(redis, p, { maxBytes: 260 });
    for (const r of [0, 10, 20, 30, 40, 0]) {
      const b = await cache.gatherBatch(id, [r, r + 1]);
      expect(b.x).toEqual(gatherBatch(d, [r, r + 1]).x);
      expect(cache.stats.bytesCached).toBeLessThanOrEqual(260);
    }
    expect(cache.stats.evictions).toBe(4);
    expect(cache.stats.chunkFetches).toBe(6); // chunk 0 was evicted, so fetched again
  });

  it('refuses a chunk that fails verification, or is missing', async () => {
    const p = newPrefix();
    const { id } = await registerDataset(redis, p, uint8Dataset(), { chunkBytes: 130 });
    const key = new KeySchema(p).datasetChunk(id, 1);
    const bytes = (await redis.getBuffer(key))!;
    bytes[3] ^= 1;
    await redis.set(key, bytes);
    const cache = new DatasetCache(redis, p);
    await expect(cache.gatherBatch(id, [12])).rejects.toThrow(/chunk 1 of dataset [0-9a-f]{64} fails verification/);
    await redis.del(key);
    await expect(cache.gatherBatch(id, [12])).rejects.toThrow(/chunk 1 of dataset [0-9a-f]{64} is missing/);
    await expect(cache.meta('f'.repeat(64))).rejects.toThrow(/dataset f{64} is not registered/);
  });

  it('a half-written registration (chunks, no meta) is not visible', async () => {
    const p = newPrefix();
    const d = uint8Dataset();
    const id = datasetHash(d);
    await redis.set(new KeySchema(p).datasetChunk(id, 0), Buffer.alloc(10));
    expect(await getDatasetMeta(redis, p, id)).toBeNull();
    await expect(new DatasetCache(redis, p).meta(id)).rejects.toThrow(/is not registered/);
    expect((await registerDataset(redis, p, d)).created).toBe(true);
  });

  it('registers nothing from a refused source', async () => {
    const p = newPrefix();
    const path = join(dir, 'bad.csv');
    writeFileSync(path, 'a,label\n1,x\n2\n');
    await expect(
      registerSource(redis, p, { type: 'csv', path, labelColumns: ['label'], task: 'classification' }, { access }),
    ).rejects.toThrow(DataError);
    expect(await allKeys()).toEqual([]);
  });

  it('a file reference stores meta and hash only; a worker whose file differs refuses', async () => {
    const p = newPrefix();
    const path = join(dir, 'shared.csv');
    writeFileSync(path, 'a,b,label\n1,2,x\n3,4,y\n5,6,x\n');
    const source: DatasetSourceInput = { type: 'csv', path, labelColumns: ['label'], task: 'classification' };
    const { id, meta } = await registerSource(redis, p, source, { storage: 'file', access });
    expect(meta).toMatchObject({ storage: 'file', chunks: [], source: { path } });
    expect((await allKeys()).sort()).toEqual([new KeySchema(p).datasetIds(), new KeySchema(p).datasetMeta(id)].sort());
    const b = await new DatasetCache(redis, p, { fileAccess: access }).gatherBatch(id, [2, 1]);
    expect(Array.from(b.x)).toEqual([5, 6, 3, 4]);

    writeFileSync(path, 'a,b,label\n1,2,x\n3,4,y\n5,7,x\n');
    await expect(new DatasetCache(redis, p, { fileAccess: access }).gatherBatch(id, [0])).rejects.toThrow(
      new RegExp(
        `shared\\.csv: differs from the registered dataset ${id} \\(this worker's copy hashes to [0-9a-f]{64}\\)`,
      ),
    );
  });

  it('a worker reads a file dataset only under its own data roots (a forged meta cannot widen them)', async () => {
    const p = newPrefix();
    const path = join(dir, 'roots.csv');
    writeFileSync(path, 'a,label\n1,x\n2,y\n');
    const source: DatasetSourceInput = { type: 'csv', path, labelColumns: ['label'], task: 'classification' };
    const { id } = await registerSource(redis, p, source, { storage: 'file', access });
    const elsewhere = dataFileAccess({ dataRoots: join(dir, 'other') });
    await expect(new DatasetCache(redis, p, { fileAccess: elsewhere }).gatherBatch(id, [0])).rejects.toThrow(
      new RegExp(`roots\\.csv: outside the data roots \\(NNQ_DATA_ROOTS=.*\\/other\\)$`),
    );
  });

  const haveFashion = hasTool('fashion-mnist', "libs/data/src/registry.spec.ts's Fashion-MNIST test");
  it.skipIf(!haveFashion)(
    'registers Fashion-MNIST in ~1 MiB uint8 chunks (skipped without dataset-fashion-mnist)',
    async () => {
      const p = newPrefix();
      const { id, meta } = await registerSource(redis, p, fashionMnistSource());
      expect(meta).toMatchObject({
        rows: 70_000,
        dtype: 'uint8',
        chunkRows: 1335,
        officialTest: { start: 60_000, end: 70_000 },
      });
      expect(meta.bytes).toBe(70_000 * 785);
      const cache = new DatasetCache(redis, p);
      const b = await cache.gatherBatch(id, [0, 69_999], fitPreprocessing(await cache.dataset(id), [0]));
      expect(b.y.length).toBe(20);
      expect(cache.stats.chunkFetches).toBe(meta.chunks.length);
    },
  );
});

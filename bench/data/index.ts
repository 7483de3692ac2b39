/**
 * bench/data: how long loading and registering Fashion-MNIST takes, and how long a worker takes
 * to fetch it cold (every chunk from Redis, verified) and warm (from its in-memory cache).
 *
 *   npm run bench:data            # REDIS_URL, or a throwaway redis-server on a free port
 *   BENCH_RUNS=9 npm run bench:data
 *
 * Prints a table of medians and writes bench/results/data.json.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { Redis } from 'ioredis';
import {
  DatasetCache,
  FASHION_MNIST_FILES,
  deleteDataset,
  epochPermutation,
  fashionMnistSource,
  fitPreprocessing,
  loadDataset,
  registerDataset,
  splitIndices,
  type Dataset,
} from '@nnq/data';
// the same throwaway redis-server the test suites use
import { startRedisServer, type ThrowawayRedis } from '@nnq/launch';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const BATCH = 512;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function timed<T>(fn: () => Promise<T> | T): Promise<[number, T]> {
  const t0 = process.hrtime.bigint();
  const v = await fn();
  return [Number(process.hrtime.bigint() - t0) / 1e6, v];
}

async function main(): Promise<void> {
  const source = fashionMnistSource();
  if (!existsSync(join(source.dir, FASHION_MNIST_FILES.train.images))) {
    console.error(`bench/data: ${source.dir} is absent; install it with: sudo apt-get install dataset-fashion-mnist`);
    process.exitCode = 2;
    return;
  }
  let server: ThrowawayRedis | undefined;
  const url = process.env.REDIS_URL ?? (server = await startRedisServer()).url;
  const redis = new Redis(url, { maxRetriesPerRequest: 3 });
  const prefix = `bench-data-${randomUUID()}`; // a valid NNQ_PREFIX (KeySchema checks it)
  const ms: Record<string, number[]> = { load: [], register: [], cold: [], warm: [], epoch: [], epochScaled: [] };
  let d: Dataset | undefined;
  let id = '';
  let chunks = 0;
  try {
    for (let run = 0; run < RUNS; run++) {
      const [tLoad, loaded] = await timed(() => loadDataset(source));
      d = loaded;
      ms.load.push(tLoad);
      // register from scratch each run (hash, chunk, SET every chunk, then the meta key)
      await deleteDataset(redis, prefix, id);
      const [tReg, reg] = await timed(() => registerDataset(redis, prefix, loaded));
      if (!reg.created) throw new Error('expected a fresh registration');
      ms.register.push(tReg);
      id = reg.id;
      chunks = reg.meta.chunks.length;

      // a worker: cold = every chunk from Redis and verified; warm = the same from its cache
      const cache = new DatasetCache(redis, prefix);
      const [tCold] = await timed(() => cache.dataset(id));
      ms.cold.push(tCold);
      if (cache.stats.chunkFetches !== chunks) throw new Error('cold fetch did not fetch every chunk once');
      const [tWarm] = await timed(() => cache.dataset(id));
      ms.warm.push(tWarm);
      if (cache.stats.chunkFetches !== chunks) throw new Error('warm fetch went to Redis');

      // one training epoch gathered from the warm cache, batch 512
      const splits = splitIndices(loaded.rows, { validation: 0.1, seed: 1, officialTest: loaded.officialTest });
      const perm = epochPermutation(splits.train.length, 1, run);
      const idx = new Uint32Array(BATCH);
      const outX = new Float32Array(BATCH * loaded.features);
      const outY = new Float32Array(BATCH * 10);
      const epoch = (pre: ReturnType<typeof fitPreprocessing>) =>
        timed(async () => {
          for (let s = 0; s + BATCH <= perm.length; s += BATCH) {
            for (let k = 0; k < BATCH; k++) idx[k] = splits.train[perm[s + k]];
            await cache.gatherBatch(id, idx, pre, outX, outY);
          }
        });
      // standardized: a multiply and an add per feature; scaled only (the default): a byte table
      ms.epoch.push((await epoch(fitPreprocessing(loaded, splits.train, { standardize: true })))[0]);
      ms.epochScaled.push((await epoch(fitPreprocessing(loaded, splits.train)))[0]);
    }
  } finally {
    await deleteDataset(redis, prefix, id).catch(() => undefined);
    await redis.quit();
    await server?.stop();
  }
  const rows = d!.rows;
  const mib = (rows * 785) / 2 ** 20;
  const epochRows = Math.floor((rows - 10_000 - 6_000) / BATCH) * BATCH;
  const table = [
    { step: 'load (gunzip + parse 4 IDX files)', ms: median(ms.load), note: `${rows} rows, ${mib.toFixed(1)} MiB` },
    { step: 'register (hash + chunk + SET)', ms: median(ms.register), note: `${chunks} chunks of ~1 MiB` },
    { step: 'worker fetch, cold (GET + sha256)', ms: median(ms.cold), note: `${chunks} GETs` },
    { step: 'worker fetch, warm (cache)', ms: median(ms.warm), note: '0 GETs' },
    { step: `gather 1 epoch, batch ${BATCH}, standardized`, ms: median(ms.epoch), note: `${epochRows} rows` },
    {
      step: `gather 1 epoch, batch ${BATCH}, scaled`,
      ms: median(ms.epochScaled),
      note: `${epochRows} rows, byte table`,
    },
  ];
  console.log(`bench/data: Fashion-MNIST, median of ${RUNS} runs, redis ${server ? 'throwaway redis-server' : url}`);
  console.log(`${'step'.padEnd(40)} ${'median ms'.padStart(10)}  note`);
  for (const r of table) console.log(`${r.step.padEnd(40)} ${r.ms.toFixed(1).padStart(10)}  ${r.note}`);
  const epochMs = median(ms.epoch);
  const scaledMs = median(ms.epochScaled);
  const rowsPerSecond = (ms: number) => ((epochRows / ms) * 1000).toFixed(0);
  console.log(
    `gather throughput: standardized ${rowsPerSecond(epochMs)} rows/s, scaled ${rowsPerSecond(scaledMs)} rows/s`,
  );
  const out = join(process.cwd(), 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, 'data.json'),
    `${JSON.stringify(
      {
        bench: 'data',
        date: new Date().toISOString(),
        node: process.version,
        cpu: cpus()[0]?.model,
        runs: RUNS,
        datasetId: id,
        rows,
        chunks,
        mediansMs: Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, median(v)])),
        samplesMs: ms,
      },
      null,
      2,
    )}\n`,
  );
  console.log('wrote bench/results/data.json');
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

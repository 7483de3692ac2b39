/**
 * bench/memory: does a worker's memory stay flat over a long run? One Fashion-MNIST run
 * (MLP 784-256-128-10, 2 shards, global batch BENCH_BATCH) of BENCH_STEPS steps on BENCH_WORKERS
 * worker processes with the step strategy BENCH_STRATEGY, one throwaway redis-server. Each worker
 * runs with --expose-gc and probe.ts preloaded, which prints the memory of each of its threads
 * (main and compute threads) after a full collection every 2 s. Reported per worker: the peak
 * resident set (VmHWM); per thread, the resident set and the heap and array buffers after full
 * collections at the first sample after the warm-up and at the end of each quarter of the run
 * (flat = no growth from quarter to quarter); and Redis's peak used_memory over its level at the
 * end of the warm-up (what the steps keep in Redis).
 *
 *   npm run bench:memory     (env: BENCH_STEPS=5000, BENCH_BATCH=128, BENCH_WORKERS=2, BENCH_STRATEGY=replicated)
 *
 * Prints a table and writes bench/results/memory.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedisServer } from '@nnq/launch';
import {
  config,
  coordinatorBase,
  peakRss,
  postRun,
  ROOT,
  start,
  until,
  waitForWorkers,
  watchRedisMemory,
  type Strategy,
} from '../cluster/measure';

const STEPS = Number(process.env.BENCH_STEPS ?? 5000);
const BATCH = Number(process.env.BENCH_BATCH ?? 128);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 2);
const STRATEGY = (process.env.BENCH_STRATEGY ?? 'replicated') as Strategy;
/** Samples before the run has made this many steps are warm-up (sessions, caches, JIT). */
const WARMUP_STEPS = 200;
const MB = 1024 * 1024;

interface Sample {
  thread: number;
  at: number;
  rss: number;
  heapUsed: number;
  arrayBuffers: number;
}

const samplesOf = (out: string): Sample[] =>
  [...out.matchAll(/^nnq-memory (\{.*\})$/gm)].map((m) => JSON.parse(m[1]) as Sample);

async function main(): Promise<void> {
  const redis = await startRedisServer();
  const dataDir = mkdtempSync(join(tmpdir(), 'nnq-bench-memory-'));
  const prefix = `benchmem${Date.now()}`;
  const env = { REDIS_URL: redis.url, NNQ_PREFIX: prefix, NNQ_DATA_DIR: dataDir };
  const coord = start('coordinator', { ...env, NNQ_PORT: '0', NNQ_LOG_LEVEL: 'log' });
  const probe = join(__dirname, 'probe.js');
  const workers = Array.from({ length: WORKERS }, () => start('worker', env, ['--expose-gc', '-r', probe]));
  const redisMemory = watchRedisMemory(redis.url, prefix);
  const load = loadavg()[0];
  try {
    const base = await coordinatorBase(coord, 60_000);
    await waitForWorkers(base, WORKERS, 60_000);
    const id = await postRun(base, { ...config(BATCH, STEPS, STRATEGY), name: `memory-${STEPS}` });
    const step = async () => (await (await fetch(`${base}/runs/${id}`)).json()) as { step: number; state: string };
    const warm = await until(
      async () => ((await step()).step >= WARMUP_STEPS ? Date.now() : undefined),
      600_000,
      'warm',
    );
    await redisMemory.mark();
    const t0 = Date.now();
    const state = await until(
      async () => {
        const r = await step();
        return ['completed', 'failed', 'cancelled'].includes(r.state) ? r.state : undefined;
      },
      3_600_000,
      'the run',
      1000,
    );
    if (state !== 'completed') throw new Error(`run ${id} ${state}:\n${coord.out().slice(-2000)}`);
    const seconds = (Date.now() - t0) / 1000;
    const peaks = workers.map((w) => peakRss(w.child.pid));
    const [redisBase, redisPeak] = await redisMemory.stop();
    report(
      workers.map((w) => samplesOf(w.out()).filter((s) => s.at >= warm)),
      peaks,
      [redisBase, redisPeak],
      { seconds, load },
    );
  } finally {
    for (const p of [coord, ...workers]) p.child.kill('SIGTERM');
    await Promise.all(
      [coord, ...workers].map(
        (p) => new Promise((r) => (p.child.exitCode !== null ? r(null) : p.child.once('exit', r))),
      ),
    );
    await redisMemory.remove();
    await redis.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function report(
  perWorker: Sample[][],
  peaks: number[],
  [redisBase, redisPeak]: [number, number],
  { seconds, load }: { seconds: number; load: number },
): void {
  // the first sample after the warm-up, then the last sample of each quarter of the run
  const points = (xs: Sample[]) => [xs[0], ...[1, 2, 3, 4].map((q) => xs[Math.ceil((q * xs.length) / 4) - 1])];
  const mb = (x: number) => (x / MB).toFixed(1);
  const rows = perWorker.flatMap((all, w) =>
    [...new Set(all.map((s) => s.thread))].map((thread) => {
      const xs = all.filter((s) => s.thread === thread);
      return {
        worker: w + 1,
        thread: thread === 0 ? 'main' : `compute ${thread}`,
        samples: xs.length,
        peakRssMB: peaks[w] / MB,
        rssMB: points(xs).map((s) => s.rss / MB),
        heapAfterGcMB: points(xs).map((s) => s.heapUsed / MB),
        arrayBuffersMB: points(xs).map((s) => s.arrayBuffers / MB),
      };
    }),
  );
  console.log(
    `\nbench/memory: ${STEPS} steps of batch ${BATCH}, ${WORKERS} workers, ${STRATEGY} step, ${seconds.toFixed(0)} s` +
      ` (load average ${load.toFixed(1)} on ${cpus().length} cpus at the start)\n`,
  );
  console.log('after full collections, at the warm-up end (step 200) and at the end of each quarter of the run:\n');
  console.log('| worker | thread | peak RSS MB | RSS MB | heap used MB | array buffers MB |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const list = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(' / ');
    console.log(
      `| ${r.worker} | ${r.thread} | ${r.peakRssMB.toFixed(1)} | ${list(r.rssMB)} | ${list(r.heapAfterGcMB)} | ` +
        `${list(r.arrayBuffersMB)} |`,
    );
  }
  console.log(`\nRedis used_memory: ${mb(redisBase)} MB at the warm-up end, peak ${mb(redisPeak)} MB after it`);
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const out = { bench: 'memory', date: new Date().toISOString(), steps: STEPS, batch: BATCH, workers: WORKERS };
  const redis = { baseMB: redisBase / MB, peakMB: redisPeak / MB };
  writeFileSync(
    join(dir, 'memory.json'),
    JSON.stringify({ ...out, strategy: STRATEGY, seconds, load, redis, rows }, null, 2) + '\n',
  );
  console.log('wrote bench/results/memory.json');
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});

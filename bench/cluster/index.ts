/**
 * bench/cluster: samples/s of Fashion-MNIST training (MLP 784-256-128-10) at global batch 1024
 * and 4096, side by side in one run: the in-process trainer, a cluster of 1 worker and of 2
 * workers (real processes, a throwaway redis-server), plus the coordinator's step time split
 * into dispatch, wait for gradients, sum, optimizer and publish.
 *
 *   npm run bench:cluster                 # BENCH_RUNS=3 repetitions, medians reported; BENCH_BATCHES=4096 narrows
 *
 * Prints a table and writes bench/results/cluster.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { startRedisServer } from '@nnq/cluster';
import { cluster, inProcess, median, PHASES, ROOT, type Measure } from './measure';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** BENCH_BATCHES=4096 narrows the global batch sizes measured. */
const BATCHES = (process.env.BENCH_BATCHES ?? '1024,4096').split(',').map(Number);

async function main(): Promise<void> {
  const redis = await startRedisServer();
  const rows: Record<string, unknown>[] = [];
  try {
    for (const batch of BATCHES) {
      const runs: Record<string, Measure[]> = { inProcess: [], worker1: [], worker2: [] };
      for (let r = 0; r < RUNS; r++) {
        // interleaved, so load on the shared machine hits every variant alike
        runs.inProcess.push(await inProcess(batch));
        runs.worker1.push(await cluster(batch, 1, redis.url));
        runs.worker2.push(await cluster(batch, 2, redis.url));
      }
      const sps = (k: string) => median(runs[k].map((m) => m.samplesPerSecond));
      const phase = (k: string) => Object.fromEntries(PHASES.map((p) => [p, median(runs[k].map((m) => m.phases![p]))]));
      // each round's variants ran back to back: their ratios are paired, less exposed to load that drifts
      const paired = (a: string, b: string) => runs[a].map((m, i) => m.samplesPerSecond / runs[b][i].samplesPerSecond);
      rows.push({
        batch,
        inProcess: sps('inProcess'),
        worker1: sps('worker1'),
        worker2: sps('worker2'),
        worker1VsInProcess: sps('worker1') / sps('inProcess'),
        worker2VsWorker1: sps('worker2') / sps('worker1'),
        perRound: {
          worker1VsInProcess: paired('worker1', 'inProcess'),
          worker2VsWorker1: paired('worker2', 'worker1'),
        },
        phasesMs: { worker1: phase('worker1'), worker2: phase('worker2') },
        samples: runs,
      });
    }
  } finally {
    await redis.stop();
  }
  const f = (n: number) => Math.round(n).toLocaleString('en-US');
  console.log(`\nbench/cluster: Fashion-MNIST MLP 784-256-128-10, 2 shards per step, median of ${RUNS} (samples/s)\n`);
  console.log('batch | in-process | 1 worker | 2 workers | 1w / in-proc | 2w / 1w');
  console.log('----- | ---------- | -------- | --------- | ------------ | -------');
  for (const r of rows as {
    batch: number;
    inProcess: number;
    worker1: number;
    worker2: number;
    worker1VsInProcess: number;
    worker2VsWorker1: number;
  }[]) {
    const ratios = [r.worker1VsInProcess, r.worker2VsWorker1].map((x) => x.toFixed(2));
    console.log([r.batch, f(r.inProcess), f(r.worker1), f(r.worker2), ...ratios].join(' | '));
  }
  console.log('\nratios of each interleaved round (median)\n');
  const list = (xs: number[]) => `${xs.map((x) => x.toFixed(2)).join(' ')} (${median(xs).toFixed(2)})`;
  for (const r of rows as { batch: number; perRound: Record<string, number[]> }[]) {
    const { worker1VsInProcess, worker2VsWorker1 } = r.perRound;
    console.log(`${r.batch} | 1w / in-proc: ${list(worker1VsInProcess)} | 2w / 1w: ${list(worker2VsWorker1)}`);
  }
  console.log('\nstep phases on the coordinator (ms per step, median)\n');
  console.log(`batch | workers | ${PHASES.join(' | ')}`);
  for (const r of rows as { batch: number; phasesMs: Record<string, Record<string, number>> }[]) {
    for (const w of ['worker1', 'worker2'])
      console.log(`${r.batch} | ${w.slice(-1)} | ${PHASES.map((p) => r.phasesMs[w][p].toFixed(1)).join(' | ')}`);
  }
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(
    join(ROOT, 'bench', 'results', 'cluster.json'),
    JSON.stringify({ date: new Date().toISOString(), cpus: cpus().length, runs: RUNS, rows }, null, 2),
  );
  console.log('\nwrote bench/results/cluster.json');
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});

/**
 * bench/cluster: samples/s of Fashion-MNIST training (MLP 784-256-128-10, 2 shards per step) at
 * global batch 1024 and 4096, side by side in one run: the in-process trainer and, for each step
 * strategy (run config reduce.strategy: central, sliced, replicated), a cluster of 1 worker and
 * of 2 workers (real processes, one throwaway redis-server). Each round runs every variant once,
 * in turn (interleaved, so load on the shared machine hits each alike); the table gives medians
 * over the rounds and the paired ratios (each cluster run over its round's in-process run), plus
 * Redis's peak used_memory and the largest worker's peak resident memory per case, the CPU time
 * per step of each process (coordinator, each worker, Redis; every thread) against the in-process
 * trainer's (on a machine of C cores no step can take less than the cluster's total over C), and
 * the coordinator's step time split into dispatch, wait for gradients, sum, optimizer and publish.
 *
 *   npm run bench:cluster     # BENCH_RUNS=3 rounds; BENCH_BATCHES=4096 and BENCH_STRATEGIES=central,sliced narrow
 *
 * Prints a table and writes bench/results/cluster.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { startRedisServer } from '@nnq/launch';
import { cluster, inProcess, median, PHASES, ROOT, type Measure, type Strategy } from './measure';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** BENCH_BATCHES=4096 narrows the global batch sizes measured. */
const BATCHES = (process.env.BENCH_BATCHES ?? '1024,4096').split(',').map(Number);
const STRATEGIES = (process.env.BENCH_STRATEGIES ?? 'central,sliced,replicated').split(',') as Strategy[];

interface Row {
  batch: number;
  strategy: Strategy;
  inProcess: number;
  worker1: number;
  worker2: number;
  /** Medians of the per-round ratios over the same round's in-process run. */
  worker1VsInProcess: number;
  worker2VsInProcess: number;
  perRound: { worker1VsInProcess: number[]; worker2VsInProcess: number[] };
  /** Redis's peak used_memory after the warm-up, and its rise over the level at the warm-up's end. */
  redisPeakMB: { worker1: number; worker2: number };
  redisRiseMB: { worker1: number; worker2: number };
  workerPeakRssMB: { worker1: number; worker2: number };
  phasesMs: Record<string, Record<string, number>>;
  samples: Record<string, Measure[]>;
}

const MB = 1024 * 1024;

async function main(): Promise<void> {
  const redis = await startRedisServer();
  const rows: Row[] = [];
  const loads: number[] = [];
  try {
    for (const batch of BATCHES) {
      const inProc: Measure[] = [];
      const runs = new Map(STRATEGIES.map((s) => [s, { worker1: [] as Measure[], worker2: [] as Measure[] }]));
      for (let r = 0; r < RUNS; r++) {
        loads.push(loadavg()[0]);
        inProc.push(await inProcess(batch));
        for (const s of STRATEGIES) {
          runs.get(s)!.worker1.push(await cluster(batch, 1, redis.url, undefined, s));
          runs.get(s)!.worker2.push(await cluster(batch, 2, redis.url, undefined, s));
        }
      }
      for (const [strategy, m] of runs) {
        const sps = (xs: Measure[]) => median(xs.map((x) => x.samplesPerSecond));
        const paired = (xs: Measure[]) => xs.map((x, i) => x.samplesPerSecond / inProc[i].samplesPerSecond);
        const peak = (xs: Measure[], k: 'redisPeakBytes' | 'workerPeakRssBytes') =>
          Math.max(...xs.map((x) => x[k]!)) / MB;
        const rise = (xs: Measure[]) => Math.max(...xs.map((x) => x.redisPeakBytes! - x.redisBaseBytes!)) / MB;
        const phase = (xs: Measure[]) =>
          Object.fromEntries(PHASES.map((p) => [p, median(xs.map((x) => x.phases![p]))]));
        rows.push({
          batch,
          strategy,
          inProcess: sps(inProc),
          worker1: sps(m.worker1),
          worker2: sps(m.worker2),
          worker1VsInProcess: median(paired(m.worker1)),
          worker2VsInProcess: median(paired(m.worker2)),
          perRound: { worker1VsInProcess: paired(m.worker1), worker2VsInProcess: paired(m.worker2) },
          redisPeakMB: { worker1: peak(m.worker1, 'redisPeakBytes'), worker2: peak(m.worker2, 'redisPeakBytes') },
          redisRiseMB: { worker1: rise(m.worker1), worker2: rise(m.worker2) },
          workerPeakRssMB: {
            worker1: peak(m.worker1, 'workerPeakRssBytes'),
            worker2: peak(m.worker2, 'workerPeakRssBytes'),
          },
          phasesMs: { worker1: phase(m.worker1), worker2: phase(m.worker2) },
          samples: { inProcess: inProc, ...m },
        });
      }
    }
  } finally {
    await redis.stop();
  }
  print(rows, loads);
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(
    join(ROOT, 'bench', 'results', 'cluster.json'),
    JSON.stringify({ date: new Date().toISOString(), cpus: cpus().length, runs: RUNS, loads, rows }, null, 2),
  );
  console.log('\nwrote bench/results/cluster.json');
}

function print(rows: Row[], loads: number[]): void {
  const f = (n: number) => Math.round(n).toLocaleString('en-US');
  const [lo, hi] = [Math.min(...loads), Math.max(...loads)].map((x) => x.toFixed(1));
  const load = `load average ${lo}-${hi} on ${cpus().length} cpus`;
  console.log(`\nbench/cluster: Fashion-MNIST MLP 784-256-128-10, 2 shards per step, median of ${RUNS} (samples/s)`);
  console.log(`(${load} at the rounds' starts)\n`);
  const heads = ['batch', 'strategy', 'in-process', '1 worker', '2 workers', '1w / in-proc', '2w / in-proc'];
  const mem = ['Redis peak MB, rise in the steps (1w; 2w)', 'worker peak RSS MB (1w, 2w)'];
  console.log(`| ${[...heads, ...mem].join(' | ')} |`);
  console.log(`| ${[...heads, ...mem].map(() => '---').join(' | ')} |`);
  for (const r of rows) {
    const ratios = [r.worker1VsInProcess, r.worker2VsInProcess].map((x) => x.toFixed(2));
    const mb = (x: { worker1: number; worker2: number }) => `${x.worker1.toFixed(1)}, ${x.worker2.toFixed(1)}`;
    const cells = [r.batch, r.strategy, f(r.inProcess), f(r.worker1), f(r.worker2), ...ratios];
    const redis = (w: 'worker1' | 'worker2') => `${r.redisPeakMB[w].toFixed(1)} +${r.redisRiseMB[w].toFixed(1)}`;
    console.log(`| ${[...cells, `${redis('worker1')}; ${redis('worker2')}`, mb(r.workerPeakRssMB)].join(' | ')} |`);
  }
  console.log('\npaired ratios of each round (median)\n');
  const list = (xs: number[]) => `${xs.map((x) => x.toFixed(2)).join(' ')} (${median(xs).toFixed(2)})`;
  for (const r of rows) {
    const { worker1VsInProcess: one, worker2VsInProcess: two } = r.perRound;
    console.log(`${r.batch} ${r.strategy} | 1w / in-proc: ${list(one)} | 2w / in-proc: ${list(two)}`);
  }
  console.log('\nCPU time per step, every thread (ms, median): the cluster against the in-process trainer\n');
  console.log('batch | strategy | workers | in-process | coordinator | workers (each) | redis | cluster total');
  for (const r of rows) {
    const inProc = median(r.samples.inProcess.map((x) => x.inProcessCpuMsPerStep ?? NaN));
    for (const w of ['worker1', 'worker2']) {
      const cpu = r.samples[w].map((x) => x.cpuMsPerStep).filter((c) => c !== undefined);
      if (!cpu.length) continue;
      const each = cpu[0].workers.map((_, i) => median(cpu.map((c) => c.workers[i])).toFixed(1));
      const total = median(cpu.map((c) => c.coordinator + c.redis + c.workers.reduce((a, b) => a + b, 0)));
      const cells = [median(cpu.map((c) => c.coordinator)), each.join(', '), median(cpu.map((c) => c.redis)), total];
      const f = (x: number | string) => (typeof x === 'number' ? x.toFixed(1) : x);
      console.log(`${r.batch} | ${r.strategy} | ${w.slice(-1)} | ${inProc.toFixed(1)} | ${cells.map(f).join(' | ')}`);
    }
  }
  console.log('\nstep phases on the coordinator (ms per step, median)\n');
  console.log(`batch | strategy | workers | ${PHASES.join(' | ')}`);
  for (const r of rows) {
    for (const w of ['worker1', 'worker2']) {
      const phases = PHASES.map((p) => r.phasesMs[w][p].toFixed(1));
      console.log(`${r.batch} | ${r.strategy} | ${w.slice(-1)} | ${phases.join(' | ')}`);
    }
  }
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});

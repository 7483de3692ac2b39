/**
 * bench/cluster: samples/s of Fashion-MNIST training (MLP 784-256-128-10) at global batch 1024
 * and 4096, side by side in one run: the in-process trainer, a cluster of 1 worker and of 2
 * workers (real processes, a throwaway redis-server), plus the coordinator's step time split
 * into dispatch, wait for gradients, sum, optimizer and publish.
 *
 *   npm run bench:cluster                 # BENCH_RUNS=3 repetitions, medians reported
 *
 * Prints a table and writes bench/results/cluster.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRunConfig, trainLocal, type RunConfigInput } from '@nnq/training';
import { startRedisServer } from '../../libs/cluster/src/throwaway-redis';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const ROOT = join(__dirname, '..', '..', '..');
const PHASES = ['dispatch', 'wait', 'sum', 'optimizer', 'publish'] as const;
const STEPS: Record<number, number> = { 1024: 24, 4096: 8 };
// steps before this one are warm-up (sessions built, chunks fetched, JIT)
const WARMUP = 2;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function config(batch: number): RunConfigInput {
  return {
    name: `bench-${batch}`,
    seed: 1,
    dataset: { source: { type: 'fashion-mnist', dir: '/usr/share/datasets/fashion-mnist' }, validation: 0.1 },
    model: {
      inputSize: 784,
      layers: [
        { units: 256, activation: 'relu' },
        { units: 128, activation: 'relu' },
        { units: 10, activation: 'softmax' },
      ],
      loss: 'softmax_cross_entropy',
    },
    optimizer: { type: 'adam', lr: 0.001 },
    batchSize: batch,
    shards: 2,
    steps: STEPS[batch],
    // evaluate far beyond the last step: the end-of-run evaluation is excluded from the timing
    evaluation: { every: 1_000_000 },
  };
}

interface Measure {
  samplesPerSecond: number;
  phases?: Record<string, number>;
}

async function inProcess(batch: number): Promise<Measure> {
  const stamps: number[] = [];
  await trainLocal(parseRunConfig(config(batch)), { onStep: () => stamps.push(performance.now()) });
  const steps = stamps.length - 1 - WARMUP;
  return { samplesPerSecond: (steps * batch) / ((stamps.at(-1)! - stamps[WARMUP]) / 1000) };
}

function start(app: string, env: NodeJS.ProcessEnv): { child: ChildProcess; out: () => string } {
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'apps', app, 'src', 'main.js')], {
    env: { ...process.env, NO_COLOR: '1', NNQ_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  return { child, out: () => out };
}

async function until<T>(fn: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function phaseSums(base: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const p of PHASES)
    out[p] = Number(
      new RegExp(`^nnq_step_phase_duration_seconds_sum\\{[^}]*phase="${p}"[^}]*\\} (\\S+)`, 'm').exec(text)?.[1] ?? 0,
    );
  return out;
}

async function cluster(batch: number, workers: number, redisUrl: string): Promise<Measure> {
  const dataDir = mkdtempSync(join(tmpdir(), 'nnq-bench-'));
  const env = { REDIS_URL: redisUrl, NNQ_PREFIX: `bench${Date.now()}`, NNQ_DATA_DIR: dataDir };
  // the coordinator only has to enable the logger at 'log' to print where it listens
  const coord = start('coordinator', { ...env, NNQ_PORT: '0', NNQ_LOG_LEVEL: 'log' });
  const procs = [coord.child];
  try {
    const port = await until(
      async () => /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(coord.out())?.[1],
      30_000,
      'coordinator',
    );
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < workers; i++) procs.push(start('worker', env).child);
    await until(
      async () => ((await (await fetch(`${base}/workers`)).json()) as unknown[]).length === workers || undefined,
      30_000,
      'workers',
    );
    const res = await fetch(`${base}/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(config(batch)),
    });
    const { id } = (await res.json()) as { id: string };
    // phases are summed between the end of the warm-up and the last step
    const before = await until(
      async () => {
        const r = (await (await fetch(`${base}/runs/${id}`)).json()) as { step: number };
        return r.step >= WARMUP ? phaseSums(base) : undefined;
      },
      120_000,
      'warm-up',
    );
    await until(
      async () => {
        const r = (await (await fetch(`${base}/runs/${id}`)).json()) as { state: string };
        return r.state === 'completed'
          ? true
          : r.state === 'failed'
            ? Promise.reject(new Error('run failed'))
            : undefined;
      },
      600_000,
      'the run',
    );
    const after = await phaseSums(base);
    const history = (await (await fetch(`${base}/runs/${id}/history`)).json()) as {
      type: string;
      step: number;
      seconds: number;
    }[];
    const steps = history.filter((h) => h.type === 'step' && h.step >= WARMUP);
    const seconds = steps.reduce((s, h) => s + h.seconds, 0);
    const phases: Record<string, number> = {};
    for (const p of PHASES) phases[p] = ((after[p] - before[p]) / steps.length) * 1000;
    return { samplesPerSecond: (steps.length * batch) / seconds, phases };
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : p.once('exit', r)))));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const redis = await startRedisServer();
  const rows: Record<string, unknown>[] = [];
  try {
    for (const batch of [1024, 4096]) {
      const runs: Record<string, Measure[]> = { inProcess: [], worker1: [], worker2: [] };
      for (let r = 0; r < RUNS; r++) {
        // interleaved, so load on the shared machine hits every variant alike
        runs.inProcess.push(await inProcess(batch));
        runs.worker1.push(await cluster(batch, 1, redis.url));
        runs.worker2.push(await cluster(batch, 2, redis.url));
      }
      const sps = (k: string) => median(runs[k].map((m) => m.samplesPerSecond));
      const phase = (k: string) => Object.fromEntries(PHASES.map((p) => [p, median(runs[k].map((m) => m.phases![p]))]));
      rows.push({
        batch,
        inProcess: sps('inProcess'),
        worker1: sps('worker1'),
        worker2: sps('worker2'),
        worker1VsInProcess: sps('worker1') / sps('inProcess'),
        worker2VsWorker1: sps('worker2') / sps('worker1'),
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
    console.log(
      `${r.batch} | ${f(r.inProcess)} | ${f(r.worker1)} | ${f(r.worker2)} | ${r.worker1VsInProcess.toFixed(2)} | ${r.worker2VsWorker1.toFixed(2)}`,
    );
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

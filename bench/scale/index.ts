/**
 * bench/scale: the coordinator's cost per step as workers grow (issue #11). A real coordinator and
 * a throwaway redis-server; simulated workers (sim-worker.ts: BullMQ workers answering shard jobs
 * with precomputed gradients, running the real reduce jobs) for W = 1, 4, 16, 64 with S = W
 * shards, P = 100k, 1M, 10M, unsliced and sliced (8 slices) side by side. Per point: step time
 * split by phase (the coordinator's own time = dispatch + sum + optimizer + publish, i.e.
 * everything but waiting for workers), the coordinator's CPU seconds, and bytes through Redis
 * (INFO stats) against the formula of docs/deploy.md. Then real workers (real.ts).
 *
 *   npm run bench:scale
 *
 * Narrow it with SCALE_P=100000,1000000 SCALE_W=1,4; SCALE_STEPS=n steps per point; SCALE_MODES=sliced;
 * SCALE_REAL=0 skips real.ts, SCALE_SIM=0 runs only it; SCALE_SKIP=PxW,... (default 10000000x64).
 *
 * Prints a table and writes bench/results/scale.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { RunConfigInput } from '@nnq/training';
import { startRedisServer } from '@nnq/launch';
import { realWorkers, type RealRow } from './real';
import { expectedTraffic, redisTraffic } from './redis-traffic';
import { coordinatorBase, until } from '../cluster/measure';
import { ROOT, start, stopAll, type Started } from './processes';

const list = (v: string | undefined, d: number[]) => (v ? v.split(',').map(Number) : d);
const PS = list(process.env.SCALE_P, [100_000, 1_000_000, 10_000_000]);
const WS = list(process.env.SCALE_W, [1, 4, 16, 64]);
const MEASURED: Record<number, number> = { 100_000: 6, 1_000_000: 8, 10_000_000: 2 };
/** Steps measured per point (SCALE_STEPS overrides for every P). */
const measured = (P: number): number => Number(process.env.SCALE_STEPS) || (MEASURED[P] ?? 3);
/** Points left out, as PxW (default 10000000x64: about 8 GB through Redis per step, minutes per point). */
const SKIP = (process.env.SCALE_SKIP ?? '10000000x64').split(',');
/** SCALE_MODES=sliced or unsliced narrows to one mode. */
const MODES = [false, true].filter((m) =>
  (process.env.SCALE_MODES ?? 'unsliced,sliced').split(',').includes(m ? 'sliced' : 'unsliced'),
);
const WARMUP = 1;
const SLICES = 8;
const PHASES = ['dispatch', 'wait', 'sum', 'optimizer', 'publish'] as const;

/** Two tanh layers of H units on 2 inputs: P = H^2 + 6H + 2 parameters. */
function config(P: number, W: number, sliced: boolean): RunConfigInput & { paramCount: number } {
  const H = Math.round(-3 + Math.sqrt(7 + P));
  const steps = WARMUP + measured(P) + 2;
  return {
    paramCount: H * H + 6 * H + 2,
    name: `scale-${P}-${W}-${sliced ? 'sliced' : 'unsliced'}`,
    seed: 1,
    dataset: { source: { type: 'synthetic', name: 'spirals', n: 4096, seed: 1 } },
    model: {
      inputSize: 2,
      layers: [
        { units: H, activation: 'tanh' },
        { units: H, activation: 'tanh' },
        { units: 2, activation: 'softmax' },
      ],
      loss: 'softmax_cross_entropy',
    },
    optimizer: { type: 'adam', lr: 0.001 },
    batchSize: 1024,
    shards: W,
    steps,
    // the default evaluation shards (2048 rows): 65536 rows of 1,000 units is over a worker's memory budget
    evaluation: { every: 1_000_000 },
    reduce: sliced ? { slices: SLICES, sliceAbove: 0 } : { slices: 1, sliceAbove: 8 },
  };
}

interface Snapshot {
  at: number;
  steps: number;
  cpu: number;
  phases: Record<string, number>;
  input: number;
  output: number;
}

async function snapshot(base: string, redis: Redis): Promise<Snapshot> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  const phases: Record<string, number> = {};
  for (const p of PHASES)
    phases[p] = num(new RegExp(`^nnq_step_phase_duration_seconds_sum\\{[^}]*phase="${p}"[^}]*\\} (\\S+)`, 'm'));
  const t = await redisTraffic(redis);
  return {
    at: performance.now(),
    steps: num(/^nnq_steps_total(?:\{[^}]*\})? (\S+)/m),
    cpu: num(/^process_cpu_seconds_total(?:\{[^}]*\})? (\S+)/m),
    phases,
    ...t,
  };
}

export interface ScaleRow {
  P: number;
  W: number;
  mode: 'unsliced' | 'sliced';
  steps: number;
  stepMs: number;
  coordinatorMs: number;
  coordinatorCpuMs: number;
  phasesMs: Record<string, number>;
  bytesPerStep: number;
  expectedBytesPerStep: number;
}

async function point(base: string, redis: Redis, P: number, W: number, sliced: boolean): Promise<ScaleRow> {
  const { paramCount, ...body } = config(P, W, sliced);
  const res = await fetch(`${base}/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 201) throw new Error(`POST /runs: ${res.status} ${await res.text()}`);
  const { id } = (await res.json()) as { id: string };
  // poll the run (cheap), then scrape once: the coordinator's CPU figure then holds few scrapes
  const at = async (n: number) => {
    await until(
      async () => {
        const r = (await (await fetch(`${base}/runs/${id}`)).json()) as { step: number };
        return r.step >= n || undefined;
      },
      600_000,
      `step ${n}`,
      P >= 1_000_000 ? 100 : 10,
    );
    return snapshot(base, redis);
  };
  const a = await at(WARMUP);
  const b = await at(WARMUP + measured(P));
  await until(
    async () => {
      const r = (await (await fetch(`${base}/runs/${id}`)).json()) as { state: string; error?: { reason: string } };
      if (r.state === 'failed') throw new Error(`run failed: ${r.error?.reason}`);
      return r.state === 'completed' || undefined;
    },
    600_000,
    'the run',
  );
  const n = b.steps - a.steps;
  const per = (x: number, y: number) => ((y - x) / n) * 1000;
  const phasesMs = Object.fromEntries(PHASES.map((p) => [p, per(a.phases[p], b.phases[p])]));
  const exp = expectedTraffic(paramCount, W, W, 2, sliced);
  return {
    P: paramCount,
    W,
    mode: sliced ? 'sliced' : 'unsliced',
    steps: n,
    stepMs: (b.at - a.at) / n,
    coordinatorMs: phasesMs.dispatch + phasesMs.sum + phasesMs.optimizer + phasesMs.publish,
    coordinatorCpuMs: per(a.cpu, b.cpu),
    phasesMs,
    bytesPerStep: (b.input - a.input + b.output - a.output) / n,
    expectedBytesPerStep: exp.input + exp.output,
  };
}

async function main(): Promise<void> {
  const server = await startRedisServer();
  const redis = new Redis(server.url);
  const dataDir = mkdtempSync(join(tmpdir(), 'nnq-scale-'));
  const env = { REDIS_URL: server.url, NNQ_PREFIX: 'scale', NNQ_DATA_DIR: dataDir };
  const procs: Started[] = [];
  const rows: ScaleRow[] = [];
  let real: RealRow[] = [];
  try {
    const coord = start(join('apps', 'coordinator', 'src', 'main.js'), { ...env, NNQ_PORT: '0', NNQ_LOG_LEVEL: 'log' });
    procs.push(coord);
    const base = await coordinatorBase(coord, 30_000);
    for (const W of process.env.SCALE_SIM === '0' ? [] : WS) {
      // a few processes, each running many simulated workers
      const nProc = Math.min(W, 4);
      const sims = Array.from({ length: nProc }, (_, i) =>
        start(join('bench', 'scale', 'sim-worker.js'), {
          ...env,
          SIM_WORKERS: String(Math.floor(W / nProc) + (i < W % nProc ? 1 : 0)),
        }),
      );
      procs.push(...sims);
      await Promise.all(
        sims.map((s) => until(async () => s.out().includes('sim workers ready') || undefined, 30_000, 'sim workers')),
      );
      for (const P of PS) {
        if (SKIP.includes(`${P}x${W}`)) continue;
        for (const sliced of MODES) {
          const row = await point(base, redis, P, W, sliced);
          rows.push(row);
          report(rows, [], true);
          console.log(pointLine(row));
        }
      }
      await stopAll(sims);
      procs.splice(procs.length - sims.length, sims.length);
    }
  } finally {
    await stopAll(procs);
    await redis.quit();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  if (process.env.SCALE_REAL !== '0') real = await realWorkers();
  report(rows, real);
}

/** One point's summary line, printed as soon as it is measured. */
function pointLine(row: ScaleRow): string {
  const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
  const coordinator = `coordinator ${row.coordinatorMs.toFixed(1)} ms (cpu ${row.coordinatorCpuMs.toFixed(1)} ms)`;
  const bytes = `${mb(row.bytesPerStep)} MB/step (formula ${mb(row.expectedBytesPerStep)})`;
  return `P=${row.P} W=${row.W} ${row.mode}: step ${row.stepMs.toFixed(1)} ms, ${coordinator}, ${bytes}`;
}

function report(rows: ScaleRow[], real: RealRow[], quiet = false): void {
  if (quiet) return write(rows, {}, real);
  const f = (n: number, d = 1) => n.toFixed(d);
  console.log('\nbench/scale: simulated workers, S = W shards, Adam, 8 slices when sliced (ms and MB per step)\n');
  const columns = [
    'P',
    'W',
    'mode',
    'step',
    'coordinator',
    'coord. CPU',
    ...PHASES,
    'MB',
    'formula MB',
    'MB / formula',
  ];
  console.log(columns.join(' | '));
  console.log(columns.map((c) => '-'.repeat(c.length)).join(' | '));
  for (const r of rows) {
    console.log(
      [
        r.P,
        r.W,
        r.mode,
        f(r.stepMs),
        f(r.coordinatorMs),
        f(r.coordinatorCpuMs),
        ...PHASES.map((p) => f(r.phasesMs[p])),
        f(r.bytesPerStep / 1e6),
        f(r.expectedBytesPerStep / 1e6),
        f(r.bytesPerStep / r.expectedBytesPerStep, 3),
      ].join(' | '),
    );
  }
  const ratios: Record<string, number> = {};
  for (const mode of ['unsliced', 'sliced']) {
    for (const P of new Set(rows.map((r) => r.P))) {
      const one = rows.find((r) => r.P === P && r.W === 1 && r.mode === mode);
      const most = rows.filter((r) => r.P === P && r.mode === mode).sort((x, y) => y.W - x.W)[0];
      if (one && most && most.W > 1) ratios[`${mode} P=${P} W=${most.W}/1`] = most.coordinatorMs / one.coordinatorMs;
    }
  }
  console.log('\ncoordinator time per step, most workers vs 1:');
  for (const [k, v] of Object.entries(ratios)) console.log(`  ${k}: ${f(v, 2)}x`);
  if (real.length) {
    console.log('\nreal workers, Fashion-MNIST 784-256-128-10, batch 1024 (samples/s):');
    for (const r of real)
      console.log(`  ${r.variant}: ${Math.round(r.samplesPerSecond)} (${f(r.vsInProcess, 2)}x in-process)`);
  }
  write(rows, ratios, real);
  console.log('\nwrote bench/results/scale.json');
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});

/** bench/results/scale.json, rewritten after every point so an interrupted bench keeps what it measured. */
function write(rows: ScaleRow[], ratios: Record<string, number>, real: RealRow[]): void {
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  const body = { date: new Date().toISOString(), cpus: cpus().length, slices: SLICES, rows, ratios, real };
  writeFileSync(join(ROOT, 'bench', 'results', 'scale.json'), JSON.stringify(body, null, 2));
}

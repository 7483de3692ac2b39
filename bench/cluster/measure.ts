/**
 * Measuring one training configuration on Fashion-MNIST (MLP 784-256-128-10, 2 shards per step):
 * the in-process trainer, or a real coordinator and N worker processes on a given Redis with a
 * given step strategy (run config reduce.strategy), with Redis's peak used_memory during the run
 * and the workers' peak resident memory. Shared by bench/cluster, bench/scale and bench/memory.
 */
import { createTrainingEngine } from '@nnq/engine-onnx';
import { Redis } from 'ioredis';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRunConfig, trainLocal, type RunConfigInput } from '@nnq/training';
import { APP_NODE_ARGS } from '@nnq/launch';

export const ROOT = join(__dirname, '..', '..', '..');
export const PHASES = ['dispatch', 'wait', 'sum', 'optimizer', 'publish'] as const;
/** Steps per measured run, by global batch. */
export const STEPS: Record<number, number> = { 1024: 96, 4096: 60 };
// steps before this one are warm-up (sessions built, chunks fetched, JIT): the rates are of the
// steady state. A cluster warms up for longer (three processes and a compute thread: at batch 4096
// its steps 2-7 took 76-87 ms against 63-66 ms after, the in-process trainer's 65-68 against 60-62);
// whole-process timings of `nnq train` include that start-up.
const WARMUP = 5;

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** reduce.strategy of a run (slices: 2 for the sliced step, as many as the shards). */
export type Strategy = 'central' | 'sliced' | 'replicated';

export function config(batch: number, steps = STEPS[batch] ?? 16, strategy?: Strategy): RunConfigInput {
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
    steps,
    // evaluate far beyond the last step: the end-of-run evaluation is excluded from the timing
    evaluation: { every: 1_000_000 },
    ...(strategy ? { reduce: { strategy, slices: 2 } } : {}),
  };
}

export interface Measure {
  samplesPerSecond: number;
  /** CPU time per step of each process (all its threads), between two polls of the run's steps. */
  cpuMsPerStep?: CpuPerStep;
  /** The in-process trainer's CPU time per step (this process, all threads). */
  inProcessCpuMsPerStep?: number;
  phases?: Record<string, number>;
  /** Redis used_memory once the run is warm (data set loaded) and its peak after (INFO memory every 100 ms). */
  redisBaseBytes?: number;
  redisPeakBytes?: number;
  /** The largest worker's peak resident set (VmHWM of /proc/<pid>/status at the end of the run). */
  workerPeakRssBytes?: number;
}

export async function inProcess(batch: number, steps?: number): Promise<Measure> {
  const stamps: number[] = [];
  const cpu: number[] = [];
  await trainLocal(parseRunConfig(config(batch, steps)), {
    engine: createTrainingEngine,
    onStep: () => {
      stamps.push(performance.now());
      const u = process.cpuUsage();
      cpu.push((u.user + u.system) / 1000);
    },
  });
  const timed = stamps.length - 1 - WARMUP;
  return {
    samplesPerSecond: (timed * batch) / ((stamps.at(-1)! - stamps[WARMUP]) / 1000),
    inProcessCpuMsPerStep: (cpu.at(-1)! - cpu[WARMUP]) / timed,
  };
}

export function start(
  app: string,
  env: NodeJS.ProcessEnv,
  nodeArgs: readonly string[] = [],
): { child: ChildProcess; out: () => string } {
  const main = join(ROOT, 'dist', 'apps', app, 'src', 'main.js');
  // BENCH_APP_NODE_ARGS: extra node flags for the apps, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  const extra = process.env.BENCH_APP_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...APP_NODE_ARGS, ...extra, ...nodeArgs, main], {
    env: { ...process.env, NO_COLOR: '1', NNQ_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  return { child, out: () => out };
}

/**
 * Polls `fn` every `everyMs` until it gives a value (a throw counts as none); fails after `ms`.
 * bench/scale uses it too (bench:scale compiles bench/cluster with it).
 */
export async function until<T>(fn: () => Promise<T | undefined>, ms: number, what: string, everyMs = 50): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The coordinator's base URL, once it has printed where it listens (it runs with NNQ_PORT=0). */
export async function coordinatorBase(coord: { out: () => string }, ms: number): Promise<string> {
  const port = await until(
    async () => /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(coord.out())?.[1],
    ms,
    'coordinator',
  );
  return `http://127.0.0.1:${port}`;
}

/** Waits until `count` workers have registered with the coordinator at `base`. */
export async function waitForWorkers(base: string, count: number, ms: number): Promise<void> {
  await until(
    async () => ((await (await fetch(`${base}/workers`)).json()) as unknown[]).length === count || undefined,
    ms,
    'workers',
  );
}

/** POST /runs to the coordinator at `base`: the new run's id. */
export async function postRun(base: string, body: RunConfigInput): Promise<string> {
  const res = await fetch(`${base}/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return ((await res.json()) as { id: string }).id;
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

/** A process's peak resident set in bytes (Linux: VmHWM), or 0 where /proc does not say. */
export function peakRss(pid: number | undefined): number {
  try {
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Redis's used_memory, polled every 100 ms: `mark` takes the level once the run is warm (its data
 * set loaded), `stop` ends the polling and resolves to [used_memory at the mark, the peak after
 * it] in bytes, `remove` deletes the run's keys (`prefix`*) once its processes are gone.
 */
export function watchRedisMemory(redisUrl: string, prefix: string) {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const used = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
  let base: number | undefined;
  let peak = 0;
  let polling = true;
  const loop = (async () => {
    while (polling) {
      const now = await used().catch(() => 0);
      if (base !== undefined) peak = Math.max(peak, now);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const stop = async (): Promise<[number, number]> => {
    polling = false;
    await loop;
    return [base ?? 0, Math.max(base ?? 0, peak)];
  };
  const remove = async () => {
    await stop();
    for (let cursor = '0'; ;) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.unlink(...keys);
      if ((cursor = next) === '0') break;
    }
    redis.disconnect();
  };
  let stopped: Promise<[number, number]> | undefined;
  return {
    mark: async () => void (base = await used()),
    // idempotent: the run's result and its clean-up both stop it
    stop: () => (stopped ??= stop()),
    remove,
  };
}

export async function cluster(
  batch: number,
  workers: number,
  redisUrl: string,
  steps?: number,
  strategy?: Strategy,
): Promise<Measure> {
  const dataDir = mkdtempSync(join(tmpdir(), 'nnq-bench-'));
  const prefix = `bench${Date.now()}`;
  const env = { REDIS_URL: redisUrl, NNQ_PREFIX: prefix, NNQ_DATA_DIR: dataDir };
  // the coordinator only has to enable the logger at 'log' to print where it listens
  const coord = start('coordinator', { ...env, NNQ_PORT: '0', NNQ_LOG_LEVEL: 'log' });
  const procs = [coord.child];
  const redisMemory = watchRedisMemory(redisUrl, prefix);
  let cpu: CpuSampler | undefined;
  try {
    const base = await coordinatorBase(coord, 30_000);
    for (let i = 0; i < workers; i++) procs.push(start('worker', env).child);
    await waitForWorkers(base, workers, 30_000);
    const id = await postRun(base, config(batch, steps, strategy));
    // phases are summed between the end of the warm-up and the last step
    const before = await until(
      async () => {
        const r = (await (await fetch(`${base}/runs/${id}`)).json()) as { step: number };
        return r.step >= WARMUP ? phaseSums(base) : undefined;
      },
      120_000,
      'warm-up',
    );
    await redisMemory.mark();
    const sampler = (cpu = new CpuSampler(
      redisUrl,
      coord.child.pid,
      procs.slice(1).map((p) => p.pid),
    ));
    const total = config(batch, steps).steps!;
    const state = await until(
      async () => {
        const r = (await (await fetch(`${base}/runs/${id}`)).json()) as { state: string; step: number };
        await sampler.sample(r.step, total);
        return ['completed', 'failed', 'cancelled'].includes(r.state) ? r.state : undefined;
      },
      600_000,
      'the run',
      // rarely: each poll costs the coordinator CPU that the measured steps would feel
      250,
    );
    if (state !== 'completed') throw new Error(`run ${id} ${state}:\n${coord.out().slice(-2000)}`);
    const after = await phaseSums(base);
    const history = (await (await fetch(`${base}/runs/${id}/history`)).json()) as {
      type: string;
      step: number;
      at: number;
    }[];
    // wall time from the end of the warm-up to the end of the last step (bookkeeping included)
    const ends = history.filter((h) => h.type === 'step' && h.step >= WARMUP - 1).map((h) => h.at);
    const timed = ends.slice(1);
    const seconds = (ends.at(-1)! - ends[0]) / 1000;
    const phases: Record<string, number> = {};
    for (const p of PHASES) phases[p] = ((after[p] - before[p]) / timed.length) * 1000;
    const workerPeakRssBytes = Math.max(...procs.slice(1).map((p) => peakRss(p.pid)));
    const [redisBaseBytes, redisPeakBytes] = await redisMemory.stop();
    return {
      samplesPerSecond: (timed.length * batch) / seconds,
      cpuMsPerStep: sampler.perStep(),
      phases,
      redisBaseBytes,
      redisPeakBytes,
      workerPeakRssBytes,
    };
  } finally {
    cpu?.close();
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : p.once('exit', r)))));
    rmSync(dataDir, { recursive: true, force: true });
    await redisMemory.remove();
  }
}

export interface CpuPerStep {
  coordinator: number;
  /** Each worker's. */
  workers: number[];
  redis: number;
}

/** CPU seconds (user + system, every thread) of a process from /proc/<pid>/stat (Linux; 0 elsewhere). */
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}
const CLOCK_TICKS = 100; // sysconf(_SC_CLK_TCK) on Linux

/**
 * CPU time per step of the coordinator, each worker and Redis (INFO cpu), from the first poll
 * past the warm-up to the last poll before the run's last step (its end-of-run work excluded).
 */
class CpuSampler {
  private readonly redis: Redis;
  private first?: { step: number; at: number[] };
  private last?: { step: number; at: number[] };

  constructor(
    redisUrl: string,
    private readonly coordinator: number | undefined,
    private readonly workers: (number | undefined)[],
  ) {
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  }

  async sample(step: number, total: number): Promise<void> {
    if (step >= total || step < WARMUP) return;
    const info = await this.redis.info('cpu');
    const redis = ['used_cpu_user', 'used_cpu_sys']
      .map((k) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0))
      .reduce((a, b) => a + b, 0);
    const at = [cpuSeconds(this.coordinator), ...this.workers.map(cpuSeconds), redis];
    if (!this.first) this.first = { step, at };
    else if (step > this.first.step) this.last = { step, at };
  }

  close(): void {
    this.redis.disconnect();
  }

  perStep(): CpuPerStep | undefined {
    const { first, last } = this;
    if (!first || !last) return undefined;
    const per = last.at.map((v, i) => ((v - first.at[i]) / (last.step - first.step)) * 1000);
    return { coordinator: per[0], workers: per.slice(1, -1), redis: per.at(-1)! };
  }
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRunConfig, trainLocal, type RunConfigInput } from '@nnq/training';
import { startRedisServer } from '../../libs/cluster/src/throwaway-redis';
import { start, stopAll, until, type Started } from './processes';

/** Real workers on Fashion-MNIST (784-256-128-10, Adam, batch 1024, 2 shards) against the in-process trainer. */
export interface RealRow {
  variant: 'in-process' | '1 worker' | '2 workers';
  samplesPerSecond: number;
  vsInProcess: number;
}

const STEPS = 16;
const WARMUP = 2;
const BATCH = 1024;

const config: RunConfigInput = {
  name: 'scale-real',
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
  batchSize: BATCH,
  shards: 2,
  steps: STEPS,
  evaluation: { every: 1_000_000 },
};

async function inProcess(): Promise<number> {
  const stamps: number[] = [];
  await trainLocal(parseRunConfig(config), { onStep: () => stamps.push(performance.now()) });
  return ((stamps.length - 1 - WARMUP) * BATCH) / ((stamps.at(-1)! - stamps[WARMUP]) / 1000);
}

async function cluster(workers: number, redisUrl: string): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'nnq-scale-real-'));
  const env = { REDIS_URL: redisUrl, NNQ_PREFIX: `real${workers}`, NNQ_DATA_DIR: dataDir };
  const coord = start(join('apps', 'coordinator', 'src', 'main.js'), { ...env, NNQ_PORT: '0', NNQ_LOG_LEVEL: 'log' });
  const procs: Started[] = [coord];
  try {
    const port = await until(async () => /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(coord.out())?.[1], 30_000, 'coordinator'); // prettier-ignore
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < workers; i++) procs.push(start(join('apps', 'worker', 'src', 'main.js'), env));
    await until(async () => ((await (await fetch(`${base}/workers`)).json()) as unknown[]).length === workers || undefined, 30_000, 'workers'); // prettier-ignore
    const res = await fetch(`${base}/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(config) }); // prettier-ignore
    const { id } = (await res.json()) as { id: string };
    await until(async () => {
      const r = (await (await fetch(`${base}/runs/${id}`)).json()) as { state: string };
      if (r.state === 'failed') throw new Error('run failed');
      return r.state === 'completed' || undefined;
    }, 600_000, 'the run'); // prettier-ignore
    const history = (await (await fetch(`${base}/runs/${id}/history`)).json()) as { type: string; step: number; seconds: number }[]; // prettier-ignore
    const steps = history.filter((h) => h.type === 'step' && h.step >= WARMUP);
    return (steps.length * BATCH) / steps.reduce((s, h) => s + h.seconds, 0);
  } finally {
    await stopAll(procs);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function realWorkers(): Promise<RealRow[]> {
  const server = await startRedisServer();
  try {
    const local = await inProcess();
    const one = await cluster(1, server.url);
    const two = await cluster(2, server.url);
    return [
      { variant: 'in-process', samplesPerSecond: local, vsInProcess: 1 },
      { variant: '1 worker', samplesPerSecond: one, vsInProcess: one / local },
      { variant: '2 workers', samplesPerSecond: two, vsInProcess: two / local },
    ];
  } finally {
    await server.stop();
  }
}

/**
 * bench/nn: throughput of the libs/nn reference path (plain TypeScript backprop, float64 inside)
 * on an MLP 784-256-128-10 (relu, relu, softmax cross entropy) at batch 128, one thread:
 *   forward+backward (lossAndGrad) on dense inputs and on MNIST-like inputs (81% zeros),
 *   forward only, and one Adam step over the flat parameter vector (the coordinator's cost).
 * Each figure is the median (with min and max) of BENCH_REPS timed repetitions of about
 * BENCH_SECONDS each, after a warm-up. The machine is shared: expect noise.
 *
 *   npm run bench:nn            (env: BENCH_REPS=7, BENCH_SECONDS=0.5)
 *
 * Prints a table and writes bench/results/nn.json.
 */
import {
  createOptimizerState,
  createRng,
  forward,
  initParams,
  lossAndGrad,
  parseOptimizerConfig,
  parseSpec,
  step,
} from '@nnq/nn';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

const REPS = Number(process.env.BENCH_REPS ?? 7);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 0.5);
const BATCH = 128;

const spec = parseSpec({
  inputSize: 784,
  layers: [
    { units: 256, activation: 'relu' },
    { units: 128, activation: 'relu' },
    { units: 10, activation: 'softmax' },
  ],
  loss: 'softmax_cross_entropy',
});

interface Row {
  name: string;
  unit: string;
  median: number;
  min: number;
  max: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Calls per second of fn: REPS repetitions of about SECONDS each, after one warm-up repetition. */
function rate(fn: () => void): number[] {
  const rates: number[] = [];
  for (let rep = -1; rep < REPS; rep++) {
    const t0 = performance.now();
    let calls = 0;
    while (performance.now() - t0 < SECONDS * 1000) {
      fn();
      calls++;
    }
    if (rep >= 0) rates.push(calls / ((performance.now() - t0) / 1000));
  }
  return rates;
}

function row(name: string, unit: string, values: number[]): Row {
  return { name, unit, median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

function main(): void {
  const rng = createRng(1);
  const params = initParams(spec, rng);
  const dense = Float32Array.from({ length: BATCH * 784 }, () => rng.next());
  const sparse = Float32Array.from({ length: BATCH * 784 }, () => (rng.next() < 0.81 ? 0 : rng.next()));
  const y = new Float32Array(BATCH * 10);
  for (let r = 0; r < BATCH; r++) y[r * 10 + rng.int(10)] = 1;
  const grad = new Float32Array(params.length);

  const rows: Row[] = [];
  const perSample = (xs: number[]) => xs.map((v) => v * BATCH);
  rows.push(
    row(
      'forward+backward, dense inputs',
      'samples/s',
      perSample(rate(() => lossAndGrad(spec, params, dense, y, BATCH, grad))),
    ),
  );
  rows.push(
    row(
      'forward+backward, 81% zero inputs',
      'samples/s',
      perSample(rate(() => lossAndGrad(spec, params, sparse, y, BATCH, grad))),
    ),
  );
  rows.push(row('forward only, dense inputs', 'samples/s', perSample(rate(() => forward(spec, params, dense, BATCH)))));
  const adam = parseOptimizerConfig({ type: 'adam', lr: 1e-3 });
  const state = createOptimizerState(adam, params.length);
  const p = params.slice();
  const stepsPerSecond = rate(() => step(p, grad, state, adam, 1e-3, { gradScale: 1 / BATCH }));
  rows.push(
    row(
      `adam step over ${params.length} params`,
      'ms',
      stepsPerSecond.map((v) => 1000 / v),
    ),
  );

  const fmt = (v: number, unit: string) => (unit === 'ms' ? v.toFixed(3) : Math.round(v).toString());
  const w = Math.max(...rows.map((r) => r.name.length));
  console.log(
    `libs/nn reference path, MLP 784-256-128-10 relu softmax_cross_entropy, batch ${BATCH}, ${params.length} params`,
  );
  const heads = ['median', 'min', 'max'].map((h) => h.padStart(9));
  console.log(['case'.padEnd(w), 'unit'.padEnd(9), ...heads].join('  '));
  for (const r of rows) {
    const values = [r.median, r.min, r.max].map((v) => fmt(v, r.unit).padStart(9));
    console.log([r.name.padEnd(w), r.unit.padEnd(9), ...values].join('  '));
  }

  const dir = join(process.cwd(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const out = {
    bench: 'nn',
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    model: '784-256-128-10 relu/relu/softmax, softmax_cross_entropy',
    params: params.length,
    batch: BATCH,
    reps: REPS,
    secondsPerRep: SECONDS,
    rows,
  };
  writeFileSync(join(dir, 'nn.json'), JSON.stringify(out, null, 2) + '\n');
  console.log(`wrote ${join('bench', 'results', 'nn.json')}`);
}

main();

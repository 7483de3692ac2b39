/**
 * Engine benchmark: training-step throughput (samples/s) of an MLP 784-256-128-10 (relu,
 * softmax cross-entropy) on one thread, side by side in one process:
 *   engine-onnx (this repo's ONNX graph on onnxruntime-node; -flat: parameters as one vector sliced in the graph),
 *   the libs/nn reference backprop (plain TypeScript, float64 inside),
 *   TensorFlow.js on the wasm backend (tf.variableGrads over the same model, same loss).
 * Each figure is the median of several timed repetitions after a warm-up, the repetitions of
 * the engines interleaved; the machine is shared, so expect noise. Prints a table and writes
 * bench/results/engine.json.
 *
 *   npm run bench:engine            (env: BENCH_REPS=5, BENCH_SECONDS=0.6, BENCH_BATCHES=128,512,1024)
 */
import * as nn from '@nnq/nn';
import { compileTrainingStep, sessionOptions, type ParamFeed } from '@nnq/engine-onnx';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { registerBenchGradients } from './tfjs-gradients';

type StepFn = () => Promise<void> | void;
interface Engine {
  readonly name: string;
  /** The gradient buffer the step writes (compared across engines once per batch size). */
  readonly grad: Float32Array;
  /** Prepare one batch size; returns the step to time, or a reason it cannot run. */
  prepare(batch: number): Promise<StepFn | string>;
  dispose(): Promise<void>;
}

const REPS = Number(process.env.BENCH_REPS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 0.6);
const BATCHES = (process.env.BENCH_BATCHES ?? '128,512,1024').split(',').map(Number);
const SIZES = [784, 256, 128, 10];

const spec = nn.parseSpec({
  inputSize: SIZES[0],
  layers: [
    { units: SIZES[1], activation: 'relu' },
    { units: SIZES[2], activation: 'relu' },
    { units: SIZES[3], activation: 'softmax' },
  ],
  loss: 'softmax_cross_entropy',
});
const rng = nn.createRng(2024);
const params = nn.initParams(spec, rng);

function batchData(batch: number): { x: Float32Array; y: Float32Array } {
  const r = nn.createRng(batch);
  const x = Float32Array.from({ length: batch * SIZES[0] }, () => r.next()); // pixel-like inputs in [0, 1)
  const y = new Float32Array(batch * SIZES[3]);
  for (let i = 0; i < batch; i++) y[i * SIZES[3] + r.int(SIZES[3])] = 1;
  return { x, y };
}

// ---- engine-onnx

function onnxEngine(feed: ParamFeed): Engine {
  const step = compileTrainingStep(spec, { threads: 1, feed });
  const grad = new Float32Array(params.length);
  return {
    name: feed === 'views' ? 'engine-onnx' : 'engine-onnx-flat',
    grad,
    async prepare(batch) {
      const { x, y } = batchData(batch);
      try {
        await step.session(batch);
      } catch (err) {
        return `onnxruntime-node unavailable: ${(err as Error).message}`;
      }
      return async () => void (await step.run(params, x, y, batch, grad));
    },
    dispose: () => step.dispose(),
  };
}

// ---- libs/nn reference (absent until libs/nn exports lossAndGrad)

function referenceEngine(): Engine {
  const lossAndGrad = (nn as Record<string, unknown>).lossAndGrad as
    | ((s: nn.NetworkSpec, p: Float32Array, x: Float32Array, y: Float32Array, b: number, g?: Float32Array) => unknown)
    | undefined;
  const grad = new Float32Array(params.length);
  return {
    name: 'nn-reference',
    grad,
    async prepare(batch) {
      if (typeof lossAndGrad !== 'function') return '@nnq/nn does not export lossAndGrad yet';
      const { x, y } = batchData(batch);
      return () => void lossAndGrad(spec, params, x, y, batch, grad);
    },
    dispose: async () => undefined,
  };
}

// ---- TensorFlow.js, wasm backend, one thread

async function tfjsEngine(): Promise<Engine> {
  type Tf = typeof import('@tensorflow/tfjs-core');
  let tf: Tf;
  try {
    tf = await import('@tensorflow/tfjs-core');
    registerBenchGradients(tf);
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // the .wasm binaries ship in the package: load them from node_modules, never from a CDN
    const dir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
    wasm.setWasmPaths(join(dir, 'dist') + '/');
    wasm.setThreadsCount(1);
    if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") returned false');
    await tf.ready();
  } catch (err) {
    const reason = `tfjs-backend-wasm unavailable: ${(err as Error).message}`;
    return {
      name: 'tfjs-wasm',
      grad: new Float32Array(0),
      prepare: async () => reason,
      dispose: async () => undefined,
    };
  }
  const layout = nn.paramLayout(spec);
  const vars = layout.layers.map((l) => ({
    W: tf.variable(tf.tensor2d(params.slice(l.kernelOffset, l.kernelOffset + l.kernelSize), [l.fanIn, l.units])),
    b: tf.variable(tf.tensor1d(params.slice(l.biasOffset, l.biasOffset + l.biasSize))),
  }));
  const grad = new Float32Array(params.length);
  return {
    name: 'tfjs-wasm',
    grad,
    async prepare(batch) {
      const { x, y } = batchData(batch);
      const X = tf.tensor2d(x, [batch, SIZES[0]]);
      const Y = tf.tensor2d(y, [batch, SIZES[3]]);
      return () => {
        // same model and loss: relu, relu, logits; J = -sum y log softmax(a), summed over the batch
        const { value, grads } = tf.variableGrads(() => {
          let h: import('@tensorflow/tfjs-core').Tensor2D = X;
          vars.forEach((v, k) => {
            const a = tf.add(tf.matMul(h, v.W), v.b) as import('@tensorflow/tfjs-core').Tensor2D;
            h = k < vars.length - 1 ? tf.relu(a) : a;
          });
          return tf.neg(tf.sum(tf.mul(Y, tf.logSoftmax(h)))) as import('@tensorflow/tfjs-core').Scalar;
        });
        // read the loss and the gradient back into one flat vector, as the other engines return it
        value.dataSync();
        layout.layers.forEach((l, k) => {
          grad.set(grads[vars[k].W.name].dataSync() as Float32Array, l.kernelOffset);
          grad.set(grads[vars[k].b.name].dataSync() as Float32Array, l.biasOffset);
        });
        tf.dispose([value, ...Object.values(grads)]);
      };
    },
    dispose: async () => tf.disposeVariables(),
  };
}

// ---- timing

interface Throughput {
  /** Median samples per wall-clock second. */
  readonly wall: number;
  /** Median samples per CPU-second of this process (less sensitive to a busy machine). */
  readonly cpu: number;
  readonly wallRuns: number[];
}

interface Run {
  readonly wall: number;
  readonly cpu: number;
}

/** One timed repetition: steps for at least SECONDS, as samples per wall- and CPU-second. */
async function timeOnce(step: StepFn, batch: number): Promise<Run> {
  let steps = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < SECONDS * 1000 || steps < 2) {
    await step();
    steps++;
    t = performance.now();
  }
  const c = process.cpuUsage(c0);
  return { wall: (steps * batch) / ((t - t0) / 1000), cpu: (steps * batch) / ((c.user + c.system) / 1e6) };
}

async function warmUp(step: StepFn): Promise<void> {
  const end = performance.now() + 300;
  do await step();
  while (performance.now() < end);
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** ||a - b|| / ||b||. */
function relErr(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    d += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  return Math.sqrt(d / n);
}

// ---- report

type Cell = Throughput | string;
const NAMES = ['engine-onnx', 'engine-onnx-flat', 'nn-reference', 'tfjs-wasm'];

function table(results: Record<number, Record<string, Cell>>, key: 'wall' | 'cpu'): string[] {
  const v = (b: number, name: string) => {
    const c = results[b][name];
    return typeof c === 'object' ? c[key] : NaN;
  };
  const fmt = (x: number) => (Number.isFinite(x) ? x.toLocaleString('en-US') : 'n/a');
  const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(1)}x` : 'n/a');
  const head = ['batch', ...NAMES, 'onnx/reference', 'onnx/tfjs'];
  const rows = BATCHES.map((b) => [
    String(b),
    ...NAMES.map((n) => fmt(v(b, n))),
    ratio(v(b, 'engine-onnx'), v(b, 'nn-reference')),
    ratio(v(b, 'engine-onnx'), v(b, 'tfjs-wasm')),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  return [line(head), ...rows.map(line)];
}

async function main(): Promise<void> {
  const engines = [onnxEngine('views'), onnxEngine('flat'), referenceEngine(), await tfjsEngine()];
  const results: Record<number, Record<string, Cell>> = {};
  const agreement: Record<string, number> = {};
  for (const batch of BATCHES) {
    results[batch] = {};
    const ready: { engine: Engine; step: StepFn; runs: Run[] }[] = [];
    for (const e of engines) {
      const step = await e.prepare(batch);
      if (typeof step === 'string') {
        results[batch][e.name] = step;
        continue;
      }
      // one step first: every engine must produce the gradient engine-onnx produces
      await step();
      if (e !== engines[0]) agreement[`${batch} ${e.name}`] = relErr(e.grad, engines[0].grad);
      await warmUp(step);
      ready.push({ engine: e, step, runs: [] });
    }
    // repetitions interleaved across engines, so that load from elsewhere hits them alike
    for (let r = 0; r < REPS; r++) for (const x of ready) x.runs.push(await timeOnce(x.step, batch));
    for (const x of ready) {
      const wallRuns = x.runs.map((v) => v.wall);
      results[batch][x.engine.name] = {
        wall: Math.round(median(wallRuns)),
        cpu: Math.round(median(x.runs.map((v) => v.cpu))),
        wallRuns,
      };
      process.stderr.write(`batch ${batch} ${x.engine.name}: ${wallRuns.map(Math.round).join(' ')} samples/s\n`);
    }
  }
  await Promise.all(engines.map((e) => e.dispose()));

  const title = `MLP ${SIZES.join('-')} relu / softmax_cross_entropy, 1 thread, median of ${REPS} x ${SECONDS} s`;
  console.log(`${title}\nsamples/s (wall clock)`);
  for (const l of table(results, 'wall')) console.log(l);
  console.log(
    'samples per CPU-second of the whole process (less sensitive to other load; includes V8 background threads)',
  );
  for (const l of table(results, 'cpu')) console.log(l);
  for (const b of BATCHES) {
    for (const [name, c] of Object.entries(results[b]))
      if (typeof c === 'string') console.log(`batch ${b} ${name}: ${c}`);
  }
  for (const [k, v] of Object.entries(agreement)) {
    console.log(`gradient of ${k} vs engine-onnx: norm-wise rel. error ${v.toExponential(1)}`);
  }

  const out = resolve(process.cwd(), 'bench/results/engine.json');
  mkdirSync(dirname(out), { recursive: true });
  const ratioOf = (b: number, a: string, c: string, key: 'wall' | 'cpu') => {
    const x = results[b][a];
    const y = results[b][c];
    return typeof x === 'object' && typeof y === 'object' ? x[key] / y[key] : null;
  };
  const report = {
    benchmark: 'engine',
    model: { sizes: SIZES, activation: 'relu', loss: 'softmax_cross_entropy', parameters: params.length },
    unit: 'samples/s',
    threads: 1,
    repetitions: REPS,
    secondsPerRepetition: SECONDS,
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    loadavg: loadavg(),
    node: process.version,
    sessionOptions: sessionOptions({ threads: 1 }),
    date: new Date().toISOString(),
    gradientRelErrorVsOnnx: agreement,
    results: Object.fromEntries(
      BATCHES.map((b) => [
        b,
        {
          engines: Object.fromEntries(
            Object.entries(results[b]).map(([n, c]) => [n, typeof c === 'string' ? { unavailable: c } : c]),
          ),
          onnxOverReference: {
            wall: ratioOf(b, 'engine-onnx', 'nn-reference', 'wall'),
            cpu: ratioOf(b, 'engine-onnx', 'nn-reference', 'cpu'),
          },
          onnxOverTfjs: {
            wall: ratioOf(b, 'engine-onnx', 'tfjs-wasm', 'wall'),
            cpu: ratioOf(b, 'engine-onnx', 'tfjs-wasm', 'cpu'),
          },
        },
      ]),
    ),
  };
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  console.log(`wrote ${out}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

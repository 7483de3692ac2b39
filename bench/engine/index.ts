/**
 * Engine benchmark: training-step throughput (samples/s) on one thread, side by side in one process:
 *   engine-onnx (this repo's ONNX graph on onnxruntime-node; -flat: parameters as one vector sliced in the graph),
 *   the libs/nn reference backprop (plain TypeScript, float64 inside),
 *   TensorFlow.js on the wasm backend (tf.variableGrads over the same model, same loss),
 * for two models: an MLP 784-256-128-10 (relu, softmax cross-entropy) at several batch sizes, and
 * the example CNN (cnn.ts) at batch 256, whose GFLOP/s are set against one core's measured
 * 1024^3 MatMul rate in onnxruntime (timed in the same interleaved repetitions).
 * Each figure is the median of several timed repetitions after a warm-up, the repetitions of
 * the engines interleaved; the machine is shared, so expect noise. Prints tables and writes
 * bench/results/engine.json.
 *
 *   npm run bench:engine   (env: BENCH_REPS=5, BENCH_SECONDS=0.6, BENCH_BATCHES=128,512,1024, BENCH_CNN_BATCH=256)
 */
import * as nn from '@nnq/nn';
import { sessionOptions } from '@nnq/engine-onnx';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import {
  CNN_SPEC,
  MATMUL_FLOP,
  cnnModel,
  cnnTfForward,
  kernelShapeOf,
  matmulStep,
  trainingFlopsPerSample,
} from './cnn';
import {
  loadTfjsWasm,
  onnxEngine,
  referenceEngine,
  tfjsEngine,
  type Engine,
  type Model,
  type TfModule,
} from './engines';
import { interleaved, relErr, warmUp, type StepFn, type Throughput } from './timing';

const REPS = Number(process.env.BENCH_REPS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 0.6);
const BATCHES = (process.env.BENCH_BATCHES ?? '128,512,1024').split(',').map(Number);
const CNN_BATCH = Number(process.env.BENCH_CNN_BATCH ?? 256);
const SIZES = [784, 256, 128, 10];

function mlpModel(): Model {
  const spec = nn.parseSpec({
    inputSize: SIZES[0],
    layers: [
      { units: SIZES[1], activation: 'relu' },
      { units: SIZES[2], activation: 'relu' },
      { units: SIZES[3], activation: 'softmax' },
    ],
    loss: 'softmax_cross_entropy',
  });
  return {
    title: `MLP ${SIZES.join('-')} relu / softmax_cross_entropy`,
    spec,
    params: nn.initParams(spec, nn.createRng(2024)),
    batchData(batch) {
      const r = nn.createRng(batch);
      const x = Float32Array.from({ length: batch * SIZES[0] }, () => r.next()); // pixel-like inputs in [0, 1)
      const y = new Float32Array(batch * SIZES[3]);
      for (let i = 0; i < batch; i++) y[i * SIZES[3] + r.int(SIZES[3])] = 1;
      return { x, y };
    },
  };
}

/** relu, relu, logits: the MLP in TensorFlow.js. */
function mlpTfForward(tf: TfModule) {
  return (x: import('@tensorflow/tfjs-core').Tensor, vars: readonly { W: never; b: never }[]) => {
    let h = x as import('@tensorflow/tfjs-core').Tensor2D;
    vars.forEach((v, k) => {
      const a = tf.add(tf.matMul(h, v.W), v.b) as import('@tensorflow/tfjs-core').Tensor2D;
      h = k < vars.length - 1 ? tf.relu(a) : a;
    });
    return h;
  };
}

type Cell = Throughput | string;

/** Time every engine at one batch size; extra steps (the MatMul yardstick) join the interleaving. */
async function measure(
  engines: Engine[],
  batch: number,
  agreement: Record<string, number>,
  extra: Record<string, StepFn> = {},
): Promise<Record<string, Cell>> {
  const cells: Record<string, Cell> = {};
  const ready: { name: string; step: StepFn; samples: number }[] = [];
  for (const e of engines) {
    const step = await e.prepare(batch);
    if (typeof step === 'string') {
      cells[e.name] = step;
      continue;
    }
    // one step first: every engine must produce the gradient engine-onnx produces
    try {
      await step();
    } catch (err) {
      cells[e.name] = `failed: ${(err as Error).message}`;
      continue;
    }
    if (e !== engines[0]) agreement[`${batch} ${e.name}`] = relErr(e.grad, engines[0].grad);
    await warmUp(step);
    ready.push({ name: e.name, step, samples: batch });
  }
  for (const [name, step] of Object.entries(extra)) {
    await warmUp(step);
    ready.push({ name, step, samples: 1 });
  }
  // repetitions interleaved across engines, so that load from elsewhere hits them alike
  const timed = await interleaved(
    ready.map((r) => r.step),
    1,
    REPS,
    SECONDS,
  );
  ready.forEach((r, i) => {
    // per sample (the MatMul: per run), unrounded: the GFLOP/s derive from them
    const scale = (v: number) => v * r.samples;
    const cell = { wall: scale(timed[i].wall), cpu: scale(timed[i].cpu), wallRuns: timed[i].wallRuns.map(scale) };
    cells[r.name] = cell;
    process.stderr.write(`batch ${batch} ${r.name}: ${cell.wallRuns.map((v) => v.toFixed(1)).join(' ')}/s\n`);
  });
  return cells;
}

const fmt = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(1)}x` : 'n/a');
const value = (c: Cell | undefined, key: 'wall' | 'cpu') => (typeof c === 'object' ? c[key] : NaN);

function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  return [line(head), ...rows.map(line)];
}

const MLP_NAMES = ['engine-onnx', 'engine-onnx-flat', 'nn-reference', 'tfjs-wasm'];
const CNN_NAMES = ['engine-onnx', 'nn-reference', 'tfjs-wasm'];

async function main(): Promise<void> {
  const tf = await loadTfjsWasm();
  const agreement: Record<string, number> = {};

  // ---- the MLP at several batch sizes
  const mlp = mlpModel();
  const mlpEngines = [
    onnxEngine(mlp, 'views'),
    onnxEngine(mlp, 'flat'),
    referenceEngine(mlp),
    tfjsEngine(tf, mlp, mlpTfForward(tf as TfModule) as never, (l) => [l.fanIn, l.units], [SIZES[0]]),
  ];
  const results: Record<number, Record<string, Cell>> = {};
  for (const batch of BATCHES) results[batch] = await measure(mlpEngines, batch, agreement);
  await Promise.all(mlpEngines.map((e) => e.dispose()));

  // ---- the CNN at one batch size, with the MatMul yardstick
  const cnn = cnnModel();
  const cnnAgreement: Record<string, number> = {};
  const cnnEngines = [
    onnxEngine(cnn, 'views'),
    referenceEngine(cnn),
    tfjsEngine(tf, cnn, typeof tf === 'string' ? (null as never) : cnnTfForward(tf), kernelShapeOf(cnn.spec), [
      ...(CNN_SPEC.inputShape as number[]),
    ]),
  ];
  const mm = await matmulStep();
  const cnnCells = await measure(cnnEngines, CNN_BATCH, cnnAgreement, { matmul: mm.step });
  await mm.dispose();
  await Promise.all(cnnEngines.map((e) => e.dispose()));
  const flop = trainingFlopsPerSample(cnn.spec);
  const matmulGflops = (key: 'wall' | 'cpu') => (value(cnnCells.matmul, key) * MATMUL_FLOP) / 1e9;
  const gflops = (name: string, key: 'wall' | 'cpu') => (value(cnnCells[name], key) * flop) / 1e9;

  // ---- report
  for (const key of ['wall', 'cpu'] as const) {
    console.log(
      key === 'wall'
        ? `${mlp.title}, 1 thread, median of ${REPS} x ${SECONDS} s\nsamples/s (wall clock)`
        : 'samples per CPU-second of the whole process (less sensitive to other load; includes V8 background threads)',
    );
    const rows = BATCHES.map((b) => [
      String(b),
      ...MLP_NAMES.map((n) => fmt(value(results[b][n], key))),
      ratio(value(results[b]['engine-onnx'], key), value(results[b]['nn-reference'], key)),
      ratio(value(results[b]['engine-onnx'], key), value(results[b]['tfjs-wasm'], key)),
    ]);
    for (const l of table(['batch', ...MLP_NAMES, 'onnx/reference', 'onnx/tfjs'], rows)) console.log(l);
  }
  console.log(`\n${cnn.title}, batch ${CNN_BATCH}, 1 thread, ${(flop / 1e6).toFixed(2)} MFLOP per sample per step`);
  const cnnRows = (['wall', 'cpu'] as const).map((key) => [
    key === 'wall' ? 'wall clock' : 'per CPU-second',
    ...CNN_NAMES.map((n) => fmt(value(cnnCells[n], key))),
    ratio(value(cnnCells['engine-onnx'], key), value(cnnCells['nn-reference'], key)),
    ratio(value(cnnCells['engine-onnx'], key), value(cnnCells['tfjs-wasm'], key)),
    gflops('engine-onnx', key).toFixed(1),
    matmulGflops(key).toFixed(1),
    `${((100 * gflops('engine-onnx', key)) / matmulGflops(key)).toFixed(0)}%`,
  ]);
  const cnnHead = [
    'samples/s',
    ...CNN_NAMES,
    'onnx/reference',
    'onnx/tfjs',
    'onnx GFLOP/s',
    'MatMul GFLOP/s',
    'of MatMul',
  ];
  for (const l of table(cnnHead, cnnRows)) console.log(l);
  for (const [b, cells] of [...BATCHES.map((b) => [b, results[b]] as const), [CNN_BATCH, cnnCells] as const]) {
    for (const [name, c] of Object.entries(cells)) if (typeof c === 'string') console.log(`batch ${b} ${name}: ${c}`);
  }
  for (const [k, v] of Object.entries(agreement))
    console.log(`MLP gradient of ${k} vs engine-onnx: norm-wise rel. error ${v.toExponential(1)}`);
  for (const [k, v] of Object.entries(cnnAgreement))
    console.log(`CNN gradient of ${k} vs engine-onnx: norm-wise rel. error ${v.toExponential(1)}`);

  const out = resolve(process.cwd(), 'bench/results/engine.json');
  mkdirSync(dirname(out), { recursive: true });
  const ratioOf = (cells: Record<string, Cell>, a: string, c: string, key: 'wall' | 'cpu') => {
    const r = value(cells[a], key) / value(cells[c], key);
    return Number.isFinite(r) ? r : null;
  };
  const cellsJson = (cells: Record<string, Cell>) =>
    Object.fromEntries(Object.entries(cells).map(([n, c]) => [n, typeof c === 'string' ? { unavailable: c } : c]));
  const report = {
    benchmark: 'engine',
    model: { sizes: SIZES, activation: 'relu', loss: 'softmax_cross_entropy', parameters: mlp.params.length },
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
          engines: cellsJson(results[b]),
          onnxOverReference: {
            wall: ratioOf(results[b], 'engine-onnx', 'nn-reference', 'wall'),
            cpu: ratioOf(results[b], 'engine-onnx', 'nn-reference', 'cpu'),
          },
          onnxOverTfjs: {
            wall: ratioOf(results[b], 'engine-onnx', 'tfjs-wasm', 'wall'),
            cpu: ratioOf(results[b], 'engine-onnx', 'tfjs-wasm', 'cpu'),
          },
        },
      ]),
    ),
    cnn: {
      spec: CNN_SPEC,
      parameters: cnn.params.length,
      batch: CNN_BATCH,
      flopPerSample: flop,
      gradientRelErrorVsOnnx: cnnAgreement,
      engines: cellsJson(Object.fromEntries(Object.entries(cnnCells).filter(([n]) => n !== 'matmul'))),
      matmul: {
        n: 1024,
        runsPerSecond: cellsJson({ m: cnnCells.matmul }).m,
        gflops: { wall: matmulGflops('wall'), cpu: matmulGflops('cpu') },
      },
      onnxGflops: { wall: gflops('engine-onnx', 'wall'), cpu: gflops('engine-onnx', 'cpu') },
      onnxOfMatmul: {
        wall: gflops('engine-onnx', 'wall') / matmulGflops('wall'),
        cpu: gflops('engine-onnx', 'cpu') / matmulGflops('cpu'),
      },
      onnxOverReference: {
        wall: ratioOf(cnnCells, 'engine-onnx', 'nn-reference', 'wall'),
        cpu: ratioOf(cnnCells, 'engine-onnx', 'nn-reference', 'cpu'),
      },
      onnxOverTfjs: {
        wall: ratioOf(cnnCells, 'engine-onnx', 'tfjs-wasm', 'wall'),
        cpu: ratioOf(cnnCells, 'engine-onnx', 'tfjs-wasm', 'cpu'),
      },
    },
  };
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  console.log(`wrote ${out}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

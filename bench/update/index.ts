/**
 * bench/update: one optimizer update over the parameters of the MLP 784-256-128-10 (235,146
 * float32 values), the coordinator's and every replica's per-step cost, by path, side by side:
 *   reference    libs/nn's JavaScript loop (typed-array locals, terms hoisted; the loop step() ran before #21)
 *   wasm         libs/nn's WebAssembly f64x2 kernel, the default of step(): params and grad copied in and
 *                out, the slots resident (createOptimizerState's); and with slots in ordinary arrays
 *   onnxruntime  Adam as an onnxruntime graph of float32 element-wise ops (1 thread): not the same bytes
 * and Adam's non-finite check as libs/training's applyFiniteStep made it before issue #21's fold and now:
 *   + separate check   step, then a pass over params (allFinite); now step's own `finite` (the plain wasm row)
 *   skip, before       onNonFinite "skip": a copy of params and slots (StepUndo.save), step, the pass
 *   skip, now          step with `undo`: the check and the slots' save inside the kernel's loop
 * Each repetition runs every case for about BENCH_SECONDS in turn (interleaved, so load on the
 * shared machine hits each alike); the table gives the median over BENCH_REPS repetitions, the
 * min and max, the paired reference / wasm ratio, and how many float32 values of params, m and
 * v differ from the reference's after 3 updates from the same start; then the per-step saving of
 * each fold (the median of the paired differences, before - now).
 *
 *   npm run bench:update       (env: BENCH_REPS=7, BENCH_SECONDS=0.3)
 *
 * Prints a table and writes bench/results/update.json.
 */
import {
  createOptimizerState,
  createRng,
  parseOptimizerConfig,
  step,
  StepUndo,
  type OptimizerConfig,
  type OptimizerType,
  type UpdatePath,
} from '@nnq/nn';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { onnxAdam } from './onnx-update';

const REPS = Number(process.env.BENCH_REPS ?? 7);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 0.3);
const N = 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10;
const LR = 1e-3;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

type Update = (
  p: Float32Array,
  g: Float32Array,
  slots: Record<string, Float32Array>,
  t: number,
) => Promise<void> | void;

interface Case {
  name: string;
  type: OptimizerType;
  path: UpdatePath | 'onnxruntime';
  update: Update;
  ms: number[];
  /** Slots in ordinary Float32Arrays (a deserialized state's): the kernel copies them in and out. */
  plainSlots?: boolean;
}

/** Adam's terms as libs/nn's rule computes them (update-rules.ts), for the onnxruntime graph. */
function adamTerms(config: OptimizerConfig & { beta1: number; beta2: number; epsilon: number }, t: number): number[] {
  const sqrtBc2 = Math.sqrt(1 - Math.pow(config.beta2, t));
  const alpha = (LR * sqrtBc2) / (1 - Math.pow(config.beta1, t));
  const [b1, b2] = [config.beta1, config.beta2];
  return [1 / 128, config.weightDecay, b1, 1 - b1, b2, 1 - b2, alpha, config.epsilon * sqrtBc2, 0];
}

/** libs/training's allFinite (the separate pass applyFiniteStep made before the fold). */
function allFinite(v: Float32Array): boolean {
  for (let i = 0; i < v.length; i++) if (v[i] - v[i] !== 0) return false;
  return true;
}

/** How the non-finite check is made: step's own flag (plain), and the cases above. */
type Check = 'plain' | 'separate' | 'skip before' | 'skip now';
const CHECK_NAMES: Record<Check, string> = {
  plain: '',
  separate: ' + separate check',
  'skip before': ', skip, before: copy + separate check',
  'skip now': ', skip, now: undo in the kernel',
};

function libCase(type: OptimizerType, path: UpdatePath, check: Check = 'plain'): Case {
  const config = parseOptimizerConfig({ type, lr: LR });
  const states = new WeakMap<object, ReturnType<typeof createOptimizerState>>();
  const undo = new StepUndo();
  return {
    name: `${type} ${path}${CHECK_NAMES[check]}`,
    type,
    path,
    ms: [],
    update(p, g, slots) {
      let state = states.get(slots);
      if (!state) states.set(slots, (state = { ...createOptimizerState(config, N), slots }));
      if (check === 'skip before') undo.save(p, state);
      const options = { gradScale: 1 / 128, path, undo: check === 'skip now' ? undo : null };
      let { finite } = step(p, g, state, config, LR, options);
      if (check === 'separate' || check === 'skip before') finite = allFinite(p);
      if (!finite) throw new Error(`${type} ${path}: a non-finite update in the bench`);
    },
  };
}

/** Calls of `update` for about SECONDS (each on its own vectors); ms per call. */
async function time(c: Case, p: Float32Array, g: Float32Array, slots: Record<string, Float32Array>): Promise<number> {
  const t0 = performance.now();
  let calls = 0;
  while (performance.now() - t0 < SECONDS * 1000) {
    await c.update(p, g, slots, ++calls);
  }
  return (performance.now() - t0) / calls;
}

/** Zeroed slots: createOptimizerState's (in the kernel's memory) or ordinary arrays. */
function slotsOf(c: Case): Record<string, Float32Array> {
  const slots = createOptimizerState(parseOptimizerConfig({ type: c.type, lr: LR }), N).slots;
  return c.plainSlots ? Object.fromEntries(Object.keys(slots).map((k) => [k, new Float32Array(N)])) : slots;
}

async function main(): Promise<void> {
  const rng = createRng(1);
  const p0 = Float32Array.from({ length: N }, () => 0.05 * rng.normal());
  const grad = Float32Array.from({ length: N }, () => rng.normal());
  const ort = await import('onnxruntime-node');
  const adamConfig = parseOptimizerConfig({ type: 'adam', lr: LR }) as OptimizerConfig & {
    beta1: number;
    beta2: number;
    epsilon: number;
  };
  const onnx = await onnxAdam(ort, N);
  const cases: Case[] = [
    ...(['adam', 'sgd', 'momentum', 'rmsprop'] as const).flatMap((t) => [libCase(t, 'reference'), libCase(t, 'wasm')]),
    { ...libCase('adam', 'wasm'), name: 'adam wasm, slots copied in and out', plainSlots: true },
    ...(['separate', 'skip before', 'skip now'] as const).map((check) => libCase('adam', 'wasm', check)),
    {
      name: 'adam onnxruntime (float32)',
      type: 'adam',
      path: 'onnxruntime',
      ms: [],
      update: (p, g, s, t) => onnx.update(p, g, s.m, s.v, adamTerms(adamConfig, t)),
    },
  ];

  // bytes: 3 updates from the same start on each path, compared with the reference's
  const after = new Map<Case, Float32Array[]>();
  for (const c of cases) {
    const p = p0.slice();
    const slots = slotsOf(c);
    for (let t = 1; t <= 3; t++) await c.update(p, grad, slots, t);
    after.set(c, [p, ...Object.values(slots)]);
  }
  const differing = (c: Case) => {
    const ref = after.get(cases.find((r) => r.type === c.type && r.path === 'reference')!)!;
    return after.get(c)!.reduce((sum, x, i) => {
      const [a, b] = [x, ref[i]].map((y) => new Uint32Array(y.buffer, y.byteOffset, y.length));
      return sum + a.reduce((s, v, j) => s + (v !== b[j] ? 1 : 0), 0);
    }, 0);
  };

  const load = loadavg()[0];
  for (let rep = -1; rep < REPS; rep++) {
    for (const c of cases) {
      const ms = await time(c, p0.slice(), grad, slotsOf(c));
      if (rep >= 0) c.ms.push(ms); // rep -1 warms every path up
    }
  }
  await onnx.release();

  const rows = cases.map((c) => {
    const ref = cases.find((r) => r.type === c.type && r.path === 'reference')!;
    const paired = c.ms.map((m, i) => ref.ms[i] / m);
    return {
      case: c.name,
      medianMs: median(c.ms),
      minMs: Math.min(...c.ms),
      maxMs: Math.max(...c.ms),
      referenceOverThis: median(paired),
      differingValues: differing(c),
      values: after.get(c)!.length * N,
    };
  });
  console.log(`\nbench/update: one update over ${N.toLocaleString('en-US')} float32 parameters, median of ${REPS}`);
  console.log(`(load average ${load.toFixed(2)} on ${cpus().length} cpus at the start)\n`);
  const heads = ['case', 'median ms', 'min', 'max', 'reference / this', 'values != reference'];
  console.log(`| ${heads.join(' | ')} |`);
  console.log(`| ${heads.map(() => '---').join(' | ')} |`);
  for (const r of rows) {
    const cells = [r.medianMs, r.minMs, r.maxMs].map((x) => x.toFixed(3));
    const vals = `${r.differingValues.toLocaleString('en-US')} of ${r.values.toLocaleString('en-US')}`;
    console.log(`| ${r.case} | ${cells.join(' | ')} | ${r.referenceOverThis.toFixed(2)} | ${vals} |`);
  }
  // the folds' savings: paired per repetition, before - now
  const byName = (name: string) => cases.find((c) => c.name === name)!;
  const folds = [
    ['adam wasm + separate check', 'adam wasm'],
    ['adam wasm, skip, before: copy + separate check', 'adam wasm, skip, now: undo in the kernel'],
  ].map(([before, now]) => {
    const [b, a] = [byName(before), byName(now)];
    const saved = b.ms.map((m, i) => m - a.ms[i]);
    return { before, now, beforeMs: median(b.ms), nowMs: median(a.ms), savedMs: median(saved) };
  });
  console.log('\n| before | now | before ms | now ms | saved ms a step (median of paired) |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const f of folds) {
    const cells = [f.beforeMs, f.nowMs, f.savedMs].map((x) => x.toFixed(3));
    console.log(`| ${f.before} | ${f.now} | ${cells.join(' | ')} |`);
  }
  const dir = join(process.cwd(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const out = { bench: 'update', date: new Date().toISOString(), node: process.version, load, params: N, rows, folds };
  writeFileSync(
    join(dir, 'update.json'),
    JSON.stringify({ ...out, reps: REPS, secondsPerRep: SECONDS }, null, 2) + '\n',
  );
  console.log('\nwrote bench/results/update.json');
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});

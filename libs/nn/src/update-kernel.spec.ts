import { describe, expect, it } from 'vitest';
import { deserializeOptimizerState, serializeOptimizerState } from './optimizer-state-file';
import {
  createOptimizerState,
  defaultUpdatePath,
  parseOptimizerConfig,
  step,
  type OptimizerConfigInput,
  type UpdatePath,
} from './optimizers';
import { createRng, type Rng } from './rng';
import { learningRate, parseScheduleConfig } from './schedules';
import { kernelModuleBytes, updateKernels } from './update-kernel';
import { s32, u32 } from './wasm-asm';
import { OPTIMIZER_RULES } from '../../../test/support/optimizer-rules';

/** The same float32 bytes (the views' own bytes: a large state's slots share one memory). */
const bytesOf = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const same = (a: Float32Array, b: Float32Array) => bytesOf(a).equals(bytesOf(b));

/** A gradient of normal draws scaled by 3, with about 2% specials (NaN, +-Inf, +-0) when asked. */
function gradient(rng: Rng, n: number, specials: boolean): Float32Array {
  const special = [NaN, Infinity, -Infinity, 0, -0];
  return Float32Array.from({ length: n }, () =>
    specials && rng.next() < 0.02 ? special[rng.int(special.length)] : 3 * rng.normal(),
  );
}

interface Trial {
  json: OptimizerConfigInput;
  n: number;
  mask: Float32Array | null;
  steps: number;
  specials: boolean;
  schedule: boolean;
}

/** The parameters and state bytes after `steps` updates on one path (the same draws on both). */
function train(trial: Trial, path: UpdatePath, seed: number) {
  const rng = createRng(seed);
  const config = parseOptimizerConfig(trial.json);
  const params = Float32Array.from({ length: trial.n }, () => rng.normal());
  if (trial.specials) params[rng.int(trial.n)] = Infinity;
  const state = createOptimizerState(config, trial.n);
  const schedule = parseScheduleConfig({ type: 'cosine', warmupSteps: 2, totalSteps: trial.steps });
  for (let t = 0; t < trial.steps; t++) {
    const lr = trial.schedule ? learningRate(schedule, t, { baseLr: config.lr }) : config.lr;
    step(params, gradient(rng, trial.n, trial.specials), state, config, lr, {
      mask: trial.mask,
      gradScale: 0.25,
      path,
    });
  }
  return { params, slots: state.slots };
}

const RULES = OPTIMIZER_RULES;

describe('update kernel: the WebAssembly f64x2 path gives the reference loop bytes', () => {
  it('this runtime has it, and step takes it by default', () => {
    const wasm = (globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean } }).WebAssembly;
    expect(wasm.validate(kernelModuleBytes())).toBe(true);
    expect(updateKernels()).not.toBeNull();
    expect(defaultUpdatePath()).toBe('wasm');
  });

  // sizes below, at and off the SIMD width (2), and one larger than a 64 KiB page of float32
  const sizes = [1, 2, 3, 5, 64, 1001, 16_385, 20_001];
  it.each(RULES)('$type (wd $weightDecay, clip $clipNorm): every size, plain, masked and with a schedule', (json) => {
    sizes.forEach((n, i) => {
      const rng = createRng(100 + i);
      const mask = Float32Array.from({ length: n }, (_, j) => (j === 0 || rng.next() < 0.25 ? 0 : 1));
      for (const trial of [
        { json, n, mask: null, steps: 3, specials: false, schedule: false },
        { json, n, mask, steps: 3, specials: false, schedule: false },
        { json, n, mask: null, steps: 5, specials: false, schedule: true },
      ]) {
        const ref = train(trial, 'reference', i);
        const wasm = train(trial, 'wasm', i);
        expect(same(wasm.params, ref.params), `params, n = ${n}`).toBe(true);
        for (const name of Object.keys(ref.slots))
          expect(same(wasm.slots[name], ref.slots[name]), `${name}, n = ${n}`).toBe(true);
        // not a vacuous match: some parameter is finite and not zeroed by the mask
        if (trial.mask === null) expect(ref.params.some((x) => x !== 0 && Number.isFinite(x))).toBe(true);
      }
    });
  });

  it.each(RULES)('$type: NaN, +-Inf and +-0 in the gradient and an Inf parameter give the same bytes', (json) => {
    for (const n of [7, 4096]) {
      const trial = { json, n, mask: null, steps: 3, specials: true, schedule: false };
      const ref = train(trial, 'reference', n);
      const wasm = train(trial, 'wasm', n);
      // bitwise, NaN payloads and signs included
      expect(same(wasm.params, ref.params)).toBe(true);
      for (const name of Object.keys(ref.slots)) expect(same(wasm.slots[name], ref.slots[name])).toBe(true);
      expect(ref.params.some(Number.isNaN)).toBe(true);
    }
  });

  it('states of every origin give the same bytes, interleaved: resident, plain arrays, slices, deserialized', () => {
    const config = parseOptimizerConfig({ type: 'adam', lr: 0.01, weightDecay: 0.01 });
    const n = 20_001;
    const rng = createRng(9);
    const start = Float32Array.from({ length: n }, () => rng.normal());
    const resident = createOptimizerState(config, n);
    const plain = { type: config.type, step: 0, slots: { m: new Float32Array(n), v: new Float32Array(n) } };
    const whole = createOptimizerState(config, n + 10); // its slots' [5, n + 5) as a state
    const sliced = { ...whole, slots: { m: whole.slots.m.subarray(5, n + 5), v: whole.slots.v.subarray(5, n + 5) } };
    const states = [resident, plain, sliced];
    const params = states.map(() => start.slice());
    const ref = { params: start.slice(), state: createOptimizerState(config, n) };
    for (let t = 0; t < 4; t++) {
      const g = gradient(rng, n, false);
      states.forEach((s, i) => step(params[i], g, s, config, 0.01));
      step(ref.params, g, ref.state, config, 0.01, { path: 'reference' });
      if (t === 1) {
        states.push(deserializeOptimizerState(serializeOptimizerState(resident)));
        params.push(params[0].slice());
      }
    }
    states.forEach((s, i) => {
      expect(same(params[i], ref.params), `params of state ${i}`).toBe(true);
      expect(same(s.slots.m, ref.state.slots.m) && same(s.slots.v, ref.state.slots.v), `slots of ${i}`).toBe(true);
    });
  });

  it('a smaller vector after a larger one reuses the memory and leaves the caller data alone', () => {
    const config = parseOptimizerConfig({ type: 'adam', lr: 0.01 });
    for (const n of [30_000, 3]) {
      const params = Float32Array.from({ length: n }, (_, i) => i / n);
      const grad = Float32Array.from({ length: n }, (_, i) => 1 - i / n);
      const gradBefore = Float32Array.from(grad);
      const ref = Float32Array.from(params);
      step(params, grad, createOptimizerState(config, n), config, 0.01);
      step(ref, grad, createOptimizerState(config, n), config, 0.01, { path: 'reference' });
      expect(same(params, ref)).toBe(true);
      expect(same(grad, gradBefore)).toBe(true);
    }
  });
});

describe('wasm-asm: LEB128 (the WebAssembly spec examples)', () => {
  it.each([
    [0, [0x00]],
    [127, [0x7f]],
    [128, [0x80, 0x01]],
    [0xef, [0xef, 0x01]],
    [624_485, [0xe5, 0x8e, 0x26]],
  ])('u32 %i', (n, bytes) => expect(u32(n)).toEqual(bytes));
  it.each([
    [0, [0x00]],
    [63, [0x3f]],
    [64, [0xc0, 0x00]],
    [-1, [0x7f]],
    [-64, [0x40]],
    [-65, [0xbf, 0x7f]],
    [-123_456, [0xc0, 0xbb, 0x78]],
  ])('s32 %i', (n, bytes) => expect(s32(n)).toEqual(bytes));
});

import { describe, expect, it } from 'vitest';
import {
  createOptimizerState,
  parseOptimizerConfig,
  step,
  type OptimizerConfigInput,
  type OptimizerState,
  type UpdatePath,
} from './optimizers';
import { createRng } from './rng';
import { StepUndo } from './step-undo';
import { OPTIMIZER_RULES } from '../../../test/support/optimizer-rules';

/**
 * step's `finite` (checked in the update's own loop, kernel and reference) and its `undo`: a
 * non-finite value in the middle, at the end (the kernel's last pair and its odd last element) and
 * in a masked-off parameter, for every rule, on both paths, resident and copied slots.
 */

const bytesOf = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const same = (a: Float32Array, b: Float32Array) => bytesOf(a).equals(bytesOf(b));
const FLT_MAX = 3.4028234663852886e38;

const CONFIGS = OPTIMIZER_RULES;

/**
 * What is put at the index: a special gradient or parameter; or a parameter at +-FLT_MAX with lr
 * 1e37 and no weight decay (which would pull it back to 0 under Adam's and RMSProp's bounded
 * steps): one side overflows float32 only in the rounding, its double finite.
 */
const KINDS = ['NaN gradient', 'Inf gradient', '-Inf parameter', '+FLT_MAX parameter', '-FLT_MAX parameter'] as const;
type Kind = (typeof KINDS)[number];
/** The index: in the middle, at the end, or masked off; `mask`: a mask elsewhere too (masked is always). */
type Where = 'middle' | 'end' | 'masked';
/** n: odd and even, below and above the resident size; `plain`: slots in ordinary arrays. */
const SIZES = [
  { n: 7, plain: false },
  { n: 8, plain: false },
  { n: 5000, plain: false },
  { n: 5001, plain: false },
  { n: 5001, plain: true },
];

interface Case {
  json: OptimizerConfigInput;
  n: number;
  plain: boolean;
  kind: Kind;
  where: Where;
  mask: boolean;
}

/** One update of the case's start on `path`, with or without undo; the start kept for comparison. */
function run(c: Case, path: UpdatePath, undo: boolean) {
  const flt = c.kind.endsWith('FLT_MAX parameter');
  const config = parseOptimizerConfig(flt ? { ...c.json, weightDecay: 0 } : c.json);
  const rng = createRng(c.n);
  const params = Float32Array.from({ length: c.n }, () => rng.normal());
  const grad = Float32Array.from({ length: c.n }, () => 3 * rng.normal());
  const at = c.where === 'middle' ? c.n >> 1 : c.where === 'end' ? c.n - 1 : 1;
  const mask = Float32Array.from({ length: c.n }, (_, j) =>
    j === at ? (c.where === 'masked' ? 0 : 1) : j % 5 === 1 ? 0 : 1,
  );
  let lr = config.lr;
  if (c.kind === 'NaN gradient') grad[at] = NaN;
  if (c.kind === 'Inf gradient') grad[at] = Infinity;
  if (c.kind === '-Inf parameter') params[at] = -Infinity;
  if (flt) [params[at], lr] = [c.kind.startsWith('-') ? -FLT_MAX : FLT_MAX, 1e37];
  const made = createOptimizerState(config, c.n);
  const state: OptimizerState = c.plain
    ? { ...made, slots: Object.fromEntries(Object.keys(made.slots).map((k) => [k, new Float32Array(c.n)])) }
    : made;
  // a state that is not all zeros, masked entries included (a restore of the whole vector would show)
  for (const v of Object.values(state.slots)) v.set(Float32Array.from({ length: c.n }, () => Math.abs(rng.normal())));
  state.step = 2;
  const before = { params: params.slice(), slots: Object.values(state.slots).map((v) => v.slice()) };
  const options = {
    mask: c.mask ? mask : null,
    gradScale: 0.25,
    path,
    undo: undo ? new StepUndo() : null,
  };
  const { finite } = step(params, grad, state, config, lr, options);
  return { finite, params, slots: Object.values(state.slots), step: state.step, before };
}

const sameState = (a: { params: Float32Array; slots: Float32Array[] }, b: typeof a) =>
  same(a.params, b.params) && a.slots.every((s, i) => same(s, b.slots[i]));

describe('step: the finite check and the undo in the update loop', () => {
  it.each(CONFIGS)('$type (wd $weightDecay, clip $clipNorm): middle, end, masked; both paths', (json) => {
    for (const { n, plain } of SIZES) {
      for (const [where, masked] of [
        ['middle', false],
        ['middle', true],
        ['end', false],
        ['end', true],
        ['masked', true],
      ] as const) {
        const overflowed: boolean[] = [];
        for (const kind of KINDS) {
          const c = { json, n, plain, kind, where, mask: masked };
          const name = `${kind} at ${where}, n = ${n}${plain ? ', plain slots' : ''}${masked ? ', mask' : ''}`;
          const ref = run(c, 'reference', false);
          // the flag says what a separate pass over the parameters would
          expect(ref.finite, name).toBe(ref.params.every(Number.isFinite));
          if (where === 'masked') expect(ref.finite, name).toBe(true);
          else if (kind.endsWith('FLT_MAX parameter')) overflowed.push(!ref.finite);
          else expect(ref.finite, name).toBe(false);
          // the kernel: the same flag, the same bytes
          const wasm = run(c, 'wasm', false);
          expect(wasm.finite, name).toBe(ref.finite);
          expect(sameState(wasm, ref), `bytes, ${name}`).toBe(true);
          // with undo: a finite update as without; a non-finite one leaves params and state as before
          for (const path of ['reference', 'wasm'] as const) {
            const u = run(c, path, true);
            expect(u.finite, `${path} undo, ${name}`).toBe(ref.finite);
            expect(sameState(u, ref.finite ? ref : u.before), `${path} undo bytes, ${name}`).toBe(true);
            expect(u.step, `${path} undo step, ${name}`).toBe(ref.finite ? 3 : 2);
          }
        }
        // +FLT_MAX or -FLT_MAX: the update overflowed float32 on one side
        if (where !== 'masked') expect(overflowed, `n = ${n}, ${where}`).toContain(true);
      }
    }
  });

  it('an undone step leaves the resident state as before: the next steps give the bytes of never taking it', () => {
    const config = parseOptimizerConfig({ type: 'adam', lr: 0.01 });
    const n = 6001;
    const rng = createRng(5);
    const start = Float32Array.from({ length: n }, () => rng.normal());
    const grads = Array.from({ length: 4 }, () => Float32Array.from({ length: n }, () => rng.normal()));
    const bad = grads[1].slice();
    bad[n >> 1] = NaN;
    const mask = Float32Array.from({ length: n }, (_, j) => (j % 7 === 3 ? 0 : 1));
    for (const path of ['wasm', 'reference'] as const) {
      const [p, q] = [start.slice(), start.slice()];
      const [s, t] = [createOptimizerState(config, n), createOptimizerState(config, n)];
      const undo = new StepUndo();
      grads.forEach((g, i) => {
        if (i === 1) expect(step(p, bad, s, config, 0.01, { mask, path, undo }).finite).toBe(false);
        expect(step(p, g, s, config, 0.01, { mask, path, undo }).finite).toBe(true);
        step(q, g, t, config, 0.01, { mask, path: 'reference' });
      });
      expect(s.step).toBe(t.step);
      expect(same(p, q) && same(s.slots.m, t.slots.m) && same(s.slots.v, t.slots.v), path).toBe(true);
    }
  });
});

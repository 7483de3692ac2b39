import { describe, expect, it } from 'vitest';
import { deserializeOptimizerState, serializeOptimizerState } from './optimizer-state-file';
import {
  clipByGlobalNorm,
  createOptimizerState,
  parseOptimizerConfig,
  step,
  type OptimizerConfigInput,
} from './optimizers';
import { createRng } from './rng';

/** Two steps from p = [1, -2] with the same gradient g = [0.5, 1] and lr = 0.1. */
function run(json: OptimizerConfigInput, steps = 1, p = [1, -2], g = [0.5, 1]) {
  const config = parseOptimizerConfig(json);
  const params = Float32Array.from(p);
  const state = createOptimizerState(config, params.length);
  for (let t = 0; t < steps; t++) step(params, Float32Array.from(g), state, config, 0.1);
  return Array.from(params);
}

function close(actual: number[], expected: number[]) {
  expected.forEach((e, i) => expect(actual[i]).toBeCloseTo(e, 6));
}

describe('optimizers: hand-computed first steps (p = [1, -2], g = [0.5, 1], lr = 0.1)', () => {
  it('sgd: p - lr g', () => close(run({ type: 'sgd', lr: 0.1 }), [0.95, -2.1]));
  it('sgd with L2: g + wd p = [0.6, 0.8]', () => close(run({ type: 'sgd', lr: 0.1, weightDecay: 0.1 }), [0.94, -2.08]));
  it('momentum: v = g, then v = 0.9 v + g = [0.95, 1.9]', () =>
    close(run({ type: 'momentum', lr: 0.1, momentum: 0.9 }, 2), [0.855, -2.29]));
  it('nesterov: p - lr (g + mu (mu v + g)) = p - 0.1 * 1.9 g', () =>
    close(run({ type: 'nesterov', lr: 0.1, momentum: 0.9 }), [0.905, -2.19]));
  it('adam: the first step is lr * sign(g) (mhat = g, vhat = g^2)', () =>
    close(run({ type: 'adam', lr: 0.1 }), [0.9, -2.1]));
  it('adam second step with the same gradient is again lr * sign(g)', () =>
    close(run({ type: 'adam', lr: 0.1 }, 2), [0.8, -2.2]));
  it('adam with L2 steps by lr sign(g + wd p): wd 1 flips the second sign, g + p = [1.5, -1]', () =>
    close(run({ type: 'adam', lr: 0.1, weightDecay: 1 }), [0.9, -1.9]));
  it('adam with L2 follows Kingma & Ba on g + wd p for 3 steps (float64 textbook order)', () => {
    // Algorithm 1 as printed, on the decayed gradient: mhat / (sqrt(vhat) + eps)
    const [lr, wd, b1, b2, eps] = [0.1, 1, 0.9, 0.999, 1e-8];
    const p = [1, -2];
    const m = [0, 0];
    const v = [0, 0];
    for (let t = 1; t <= 3; t++) {
      for (let i = 0; i < 2; i++) {
        const g = [0.5, 1][i] + wd * p[i];
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        p[i] -= (lr * (m[i] / (1 - b1 ** t))) / (Math.sqrt(v[i] / (1 - b2 ** t)) + eps);
      }
    }
    const got = run({ type: 'adam', lr, weightDecay: wd }, 3);
    close(got, p);
    // p = [0.7009, -1.7016]; without the decay the three steps are 3 lr sign(g): [0.7, -2.3]
    close(run({ type: 'adam', lr }, 3), [0.7, -2.3]);
    expect(got[1] - -2.3).toBeGreaterThan(0.5);
  });
  it('adamw: decoupled decay p - lr (sign(g) + wd p)', () =>
    close(run({ type: 'adamw', lr: 0.1, weightDecay: 0.01 }), [1 - 0.1 * 1.01, -2 - 0.1 * (1 - 0.02)]));
  it('rmsprop: s = 0.1 g^2, p - lr g / sqrt(s) = p - lr / sqrt(0.1) sign(g)', () =>
    close(run({ type: 'rmsprop', lr: 0.1, rho: 0.9 }), [1 - 0.1 / Math.sqrt(0.1), -2 - 0.1 / Math.sqrt(0.1)]));

  it('clips by global norm inside the step, after gradScale', () => {
    const config = parseOptimizerConfig({ type: 'sgd', lr: 1, clipNorm: 1 });
    const params = Float32Array.from([1, -2]);
    const grad = Float32Array.from([6, 8]);
    const r = step(params, grad, createOptimizerState(config, 2), config, 1, { gradScale: 0.5 });
    expect(r.gradNorm).toBe(5); // ||0.5 * [6, 8]||
    close(Array.from(params), [1 - 0.6, -2 - 0.8]);
    expect(Array.from(grad)).toEqual([6, 8]); // the gradient itself is left alone
  });

  it('clipByGlobalNorm scales in place and returns the norm', () => {
    const g = Float32Array.from([3, 4]);
    expect(clipByGlobalNorm(g, 1)).toBe(5);
    close(Array.from(g), [0.6, 0.8]);
    const h = Float32Array.from([0.3, 0.4]);
    expect(clipByGlobalNorm(h, 1)).toBeCloseTo(0.5, 7);
    expect(Array.from(h)).toEqual(Array.from(Float32Array.from([0.3, 0.4])));
  });
});

describe('optimizers: masks and state', () => {
  const configs: OptimizerConfigInput[] = [
    { type: 'sgd', lr: 0.1, weightDecay: 0.1 },
    { type: 'momentum', lr: 0.1 },
    { type: 'nesterov', lr: 0.1, weightDecay: 0.01 },
    { type: 'adam', lr: 0.01, clipNorm: 1 },
    { type: 'adamw', lr: 0.01 },
    { type: 'rmsprop', lr: 0.01 },
  ];

  it.each(configs)('$type keeps masked entries exactly 0', (json) => {
    const config = parseOptimizerConfig(json);
    const mask = Float32Array.from([0, 1, 1, 0]);
    const params = Float32Array.from([0.5, 1, -1, 0]); // a stray non-zero under the mask is re-zeroed
    const state = createOptimizerState(config, 4);
    for (let t = 0; t < 5; t++) step(params, Float32Array.from([1, 1, -1, -1]), state, config, 0.1, { mask });
    expect(Object.is(params[0], 0) && Object.is(params[3], 0)).toBe(true);
    expect(params[1]).not.toBe(1);
  });

  it.each([
    { type: 'adam', lr: 0.01, weightDecay: 0.01 },
    { type: 'adamw', lr: 0.01, weightDecay: 0.01 },
  ] as OptimizerConfigInput[])('$type equals the per-element formula bitwise, masked or not', (json) => {
    const config = parseOptimizerConfig(json) as { beta1: number; beta2: number; epsilon: number; lr: number };
    const rng = createRng(5);
    const n = 64;
    // masked runs at the start, in the middle (single and long) and at the end
    const mask = Float32Array.from({ length: n }, (_, i) =>
      i < 3 || i === 10 || (i >= 20 && i < 30) || i >= 60 ? 0 : 1,
    );
    for (const m of [null, mask]) {
      const p = Float32Array.from({ length: n }, () => rng.normal());
      const ref = Float32Array.from(p);
      const state = createOptimizerState(parseOptimizerConfig(json), n);
      const [rm, rv] = [new Float32Array(n), new Float32Array(n)];
      const { beta1: b1, beta2: b2, epsilon: eps } = config;
      const l2 = json.type === 'adam' ? 0.01 : 0;
      const dec = json.type === 'adamw' ? 0.01 : 0;
      for (let t = 1; t <= 4; t++) {
        const g = Float32Array.from({ length: n }, () => rng.normal());
        step(p, g, state, parseOptimizerConfig(json), 0.01, { mask: m });
        const s2 = Math.sqrt(1 - Math.pow(b2, t));
        const alpha = (0.01 * s2) / (1 - Math.pow(b1, t));
        for (let i = 0; i < n; i++) {
          if (m && m[i] === 0) {
            ref[i] = 0;
            continue;
          }
          const gi = g[i] + l2 * ref[i];
          const mi = b1 * rm[i] + (1 - b1) * gi;
          const vi = b2 * rv[i] + (1 - b2) * gi * gi;
          [rm[i], rv[i]] = [mi, vi];
          ref[i] = ref[i] - ((alpha * mi) / (Math.sqrt(vi) + eps * s2) + 0.01 * dec * ref[i]);
        }
      }
      expect(Buffer.from(p.buffer).equals(Buffer.from(ref.buffer))).toBe(true);
      expect(Buffer.from(state.slots.v.buffer).equals(Buffer.from(rv.buffer))).toBe(true);
    }
  });

  it.each(configs)('$type resumes bitwise exactly from serialized state', (json) => {
    const config = parseOptimizerConfig(json);
    const rng = createRng(11);
    const n = 257;
    const grads = Array.from({ length: 10 }, () => Float32Array.from({ length: n }, () => rng.normal()));
    const a = Float32Array.from({ length: n }, () => rng.normal());
    const sa = createOptimizerState(config, n);
    for (let t = 0; t < 5; t++) step(a, grads[t], sa, config, 0.05);
    const bytes = serializeOptimizerState(sa);
    const b = Float32Array.from(a);
    const sb = deserializeOptimizerState(bytes, { config, size: n });
    expect(sb.step).toBe(5);
    for (let t = 5; t < 10; t++) {
      step(a, grads[t], sa, config, 0.05);
      step(b, grads[t], sb, config, 0.05);
    }
    expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer))).toBe(true);
    expect(Buffer.from(serializeOptimizerState(sb)).equals(Buffer.from(serializeOptimizerState(sa)))).toBe(true);
  });

  it('refuses state of another optimizer or size', () => {
    const adam = parseOptimizerConfig({ type: 'adam' });
    const bytes = serializeOptimizerState(createOptimizerState(adam, 3));
    expect(() => deserializeOptimizerState(bytes, { config: parseOptimizerConfig({ type: 'sgd', lr: 1 }) })).toThrow(
      /optimizer state is adam, the config asks for sgd/,
    );
    expect(() => deserializeOptimizerState(bytes, { size: 4 })).toThrow(/slot m has 3 values, the parameters 4/);
    expect(() => deserializeOptimizerState(bytes.subarray(0, bytes.length - 1))).toThrow(/truncated|data section/);
    const state = createOptimizerState(adam, 3);
    expect(() => step(new Float32Array(3), new Float32Array(2), state, adam, 0.1)).toThrow(
      /grad has 2 values, params 3/,
    );
  });
});

describe('optimizers: config', () => {
  it('fills in the defaults', () => {
    expect(parseOptimizerConfig({ type: 'adam' })).toEqual({
      type: 'adam',
      lr: 0.001,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
      weightDecay: 0,
    });
    expect(parseOptimizerConfig({ type: 'adamw' }).weightDecay).toBe(0.01);
  });

  it.each<[unknown, RegExp]>([
    [{ type: 'sgd', lr: 0 }, /lr: must be greater than 0/],
    [{ type: 'sgd', lr: -0.1 }, /lr: must be greater than 0/],
    [{ type: 'sgd' }, /lr: Invalid input: expected number/],
    [{ type: 'adam', beta1: 1 }, /beta1: must be less than 1/],
    [{ type: 'adam', epsilon: 0 }, /epsilon: must be greater than 0/],
    [{ type: 'momentum', lr: 0.1, momentum: -0.5 }, /momentum: must be at least 0/],
    [{ type: 'rmsprop', rho: 1.5 }, /rho: must be less than 1/],
    [{ type: 'adamw', weightDecay: -1 }, /weightDecay: must be at least 0/],
    [{ type: 'sgd', lr: 0.1, clipNorm: 0 }, /clipNorm: must be greater than 0/],
    [{ type: 'lion', lr: 0.1 }, /type: Invalid/],
    [{ type: 'sgd', lr: 0.1, nesterov: true }, /Unrecognized key: "nesterov"/],
    ['adam', /\(root\): Invalid input/],
  ])('refuses %j', (json, message) => {
    expect(() => parseOptimizerConfig(json)).toThrow(message);
  });
});

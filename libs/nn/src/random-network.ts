import fc from 'fast-check';
import type { Rng } from './rng';
import { ACTIVATIONS, parseSpec, type Activation, type Loss, type NetworkSpec } from './spec';

/**
 * Test helper (not exported from the package): fast-check arbitraries for small random networks
 * covering every activation, loss, mask and skip option, plus matching random data.
 */

const HIDDEN = ACTIVATIONS.filter((a) => a !== 'softmax');

/** Output activation and loss pairs the spec allows. */
const HEADS: readonly [Activation, Loss][] = [
  ...ACTIVATIONS.map((a): [Activation, Loss] => [a, 'sum_of_squares']),
  ...ACTIVATIONS.map((a): [Activation, Loss] => [a, 'mse']),
  ['softmax', 'softmax_cross_entropy'],
  ['sigmoid', 'sigmoid_binary_cross_entropy'],
];

export interface RandomCase {
  spec: NetworkSpec;
  batch: number;
  /** Seed for parameters and data. */
  seed: number;
}

export const randomCase: fc.Arbitrary<RandomCase> = fc
  .record({
    inputSize: fc.integer({ min: 1, max: 4 }),
    hidden: fc.array(
      fc.record({
        units: fc.integer({ min: 1, max: 4 }),
        activation: fc.constantFrom(...HIDDEN),
        useBias: fc.boolean(),
      }),
      { minLength: 0, maxLength: 3 },
    ),
    out: fc.record({ units: fc.integer({ min: 1, max: 3 }), head: fc.constantFrom(...HEADS), useBias: fc.boolean() }),
    skipBits: fc.array(fc.constantFrom<'none' | 'concat' | 'add'>('none', 'concat', 'add'), { minLength: 4, maxLength: 4 }), // prettier-ignore
    maskBits: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    batch: fc.integer({ min: 1, max: 5 }),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  })
  .map(({ inputSize, hidden, out, skipBits, maskBits, batch, seed }) => {
    const [activation, loss] = out.head;
    // a softmax of one unit is the constant 1 with a zero gradient: it would test nothing
    const units = activation === 'softmax' ? Math.max(out.units, 2) : out.units;
    const layers: { units: number; activation: Activation; useBias: boolean; mask?: (0 | 1)[][] }[] = [
      ...hidden,
      { units, activation, useBias: out.useBias },
    ];
    const widths = [inputSize, ...layers.map((l) => l.units)];
    const skips: { from: number; to: number; mode: 'concat' | 'add' }[] = [];
    for (let to = 2; to <= layers.length; to++) {
      let mode = skipBits[to - 2];
      if (mode === 'add' && widths[to - 2] !== widths[to - 1]) mode = 'concat';
      if (mode !== 'none') skips.push({ from: to - 2, to, mode });
    }
    // masks: a deterministic 0/1 pattern from the seed, on the layers maskBits picks
    let bits = seed | 1;
    layers.forEach((l, k) => {
      if (!maskBits[k]) return;
      const skip = skips.find((s) => s.to === k + 1);
      const fanIn = widths[k] + (skip && skip.mode === 'concat' ? widths[skip.from] : 0);
      l.mask = Array.from({ length: fanIn }, () =>
        Array.from({ length: l.units }, () => {
          bits = (Math.imul(bits, 1103515245) + 12345) | 0;
          return (bits >>> 16) % 3 === 0 ? 0 : 1;
        }),
      );
    });
    return { spec: parseSpec({ inputSize, layers, skips, loss }), batch, seed };
  });

/** Random inputs, and targets that fit the loss (probability rows for softmax, [0,1] for sigmoid). */
export function randomData(spec: NetworkSpec, batch: number, rng: Rng): { x: Float64Array; y: Float64Array } {
  const K = spec.layers[spec.layers.length - 1].units;
  const x = Float64Array.from({ length: batch * spec.inputSize }, () => rng.normal());
  const y = new Float64Array(batch * K);
  for (let r = 0; r < batch; r++) {
    if (spec.loss === 'softmax_cross_entropy') {
      let s = 0;
      for (let k = 0; k < K; k++) s += y[r * K + k] = rng.next() + 0.1;
      for (let k = 0; k < K; k++) y[r * K + k] /= s;
    } else if (spec.loss === 'sigmoid_binary_cross_entropy') {
      for (let k = 0; k < K; k++) y[r * K + k] = rng.next();
    } else {
      for (let k = 0; k < K; k++) y[r * K + k] = rng.normal();
    }
  }
  return { x, y };
}

/** Random parameters N(0, 0.8^2), biases included (so no pre-activation sits exactly at a kink). */
export function randomParams(size: number, rng: Rng): Float64Array {
  return Float64Array.from({ length: size }, () => 0.8 * rng.normal());
}

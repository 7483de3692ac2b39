import { describe, expect, it } from 'vitest';
import { defaultScheme, initParams } from './init';
import { flatMask, layerViews, paramLayout } from './layout';
import { lossAndGrad } from './network';
import { createOptimizerState, parseOptimizerConfig, step } from './optimizers';
import { createRng } from './rng';
import { parseSpec } from './spec';

const spec = parseSpec({
  inputSize: 400,
  layers: [
    { units: 300, activation: 'relu' },
    {
      units: 100,
      activation: 'tanh',
      mask: Array.from({ length: 300 }, (_, i) => Array.from({ length: 100 }, (_, k) => ((i + k) % 3 ? 1 : 0))),
    },
  ],
  loss: 'mse',
});
const layout = paramLayout(spec);

function std(v: Float32Array): number {
  let s = 0;
  for (const x of v) s += x * x;
  return Math.sqrt(s / v.length);
}

describe('initParams', () => {
  it('defaults to he_normal for relu-family, glorot_uniform otherwise; biases 0', () => {
    expect(['relu', 'leaky_relu', 'elu', 'gelu'].map((a) => defaultScheme(a as 'relu'))).toEqual(
      Array(4).fill('he_normal'),
    );
    expect(defaultScheme('tanh')).toBe('glorot_uniform');
    const [l1, l2] = layerViews(layout, initParams(spec, createRng(1)));
    expect(std(l1.kernel)).toBeCloseTo(Math.sqrt(2 / 400), 3); // N(0, 2 / fanIn)
    // U(-r, r) has std r / sqrt(3), r = sqrt(6 / (fanIn + fanOut)); a third of the entries are masked
    expect(std(l2.kernel)).toBeCloseTo(Math.sqrt(2 / 400) * Math.sqrt(2 / 3), 3);
    expect(l1.bias!.every((b) => b === 0) && l2.bias!.every((b) => b === 0)).toBe(true);
  });

  it.each([
    ['he_uniform', Math.sqrt(6 / 400) / Math.sqrt(3)],
    ['glorot_normal', Math.sqrt(2 / 700)],
    ['glorot_uniform', Math.sqrt(6 / 700) / Math.sqrt(3)],
    ['zeros', 0],
  ] as const)('%s has the right spread', (scheme, expected) => {
    const [l1] = layerViews(layout, initParams(spec, createRng(2), scheme));
    expect(std(l1.kernel)).toBeCloseTo(expected, 3);
  });

  it('takes a scheme per layer, is reproducible from the seed, writes 0 under the mask', () => {
    const p = initParams(spec, createRng(3), (n) => (n === 1 ? 'zeros' : 'he_uniform'));
    expect(layerViews(layout, p)[0].kernel.every((w) => w === 0)).toBe(true);
    expect(Array.from(initParams(spec, createRng(9)))).toEqual(Array.from(initParams(spec, createRng(9))));
    const mask = flatMask(spec, layout)!;
    expect(p.every((w, i) => mask[i] === 1 || Object.is(w, 0))).toBe(true);
  });

  it('keeps removed connections exactly 0 through training (backprop + Adam)', () => {
    const params = initParams(spec, createRng(4));
    const mask = flatMask(spec, layout)!;
    const rng = createRng(5);
    const x = Float32Array.from({ length: 8 * 400 }, () => rng.normal());
    const y = Float32Array.from({ length: 8 * 100 }, () => rng.normal());
    const config = parseOptimizerConfig({ type: 'adam', lr: 0.01 });
    const state = createOptimizerState(config, params.length);
    for (let t = 0; t < 3; t++) step(params, lossAndGrad(spec, params, x, y, 8).grad, state, config, 0.01);
    expect(params.every((w, i) => mask[i] === 1 || Object.is(w, 0))).toBe(true);
  });
});

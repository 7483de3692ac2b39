import { describe, expect, it } from 'vitest';
import { initParams } from './init';
import { forward, lossAndGrad } from './network';
import { createOptimizerState, parseOptimizerConfig, step } from './optimizers';
import { createRng } from './rng';
import { parseSpec, type NetworkSpec } from './spec';
import { XOR_SPEC, XOR_X, XOR_Y } from '../../../test/support/xor';

/** Full-batch Adam on the float32 path, as the cluster trains (summed gradient, gradScale 1/batch). */
function train(spec: NetworkSpec, seed: number, x: Float32Array, y: Float32Array, lr: number, steps: number) {
  const batch = x.length / spec.inputSize;
  const params = initParams(spec, createRng(seed));
  const config = parseOptimizerConfig({ type: 'adam', lr });
  const state = createOptimizerState(config, params.length);
  const grad = new Float32Array(params.length);
  let loss = Infinity;
  for (let t = 0; t < steps; t++) {
    loss = lossAndGrad(spec, params, x, y, batch, grad).loss;
    step(params, grad, state, config, lr, { gradScale: 1 / batch });
  }
  return { params, loss: lossAndGrad(spec, params, x, y, batch).loss ?? loss };
}

describe('training', () => {
  it('fits sin on [-pi, pi] with one tanh hidden layer to max error < 0.02', () => {
    const spec = parseSpec({
      inputSize: 1,
      layers: [
        { units: 16, activation: 'tanh' },
        { units: 1, activation: 'identity' },
      ],
      loss: 'mse',
    });
    const n = 64;
    const x = Float32Array.from({ length: n }, (_, i) => -Math.PI + (2 * Math.PI * i) / (n - 1));
    const { params } = train(spec, 1, x, x.map(Math.sin), 0.01, 4000);
    // check between the training points too
    const grid = Float32Array.from({ length: 501 }, (_, i) => -Math.PI + (2 * Math.PI * i) / 500);
    const out = forward(spec, params, grid, grid.length);
    const maxErr = Math.max(...Array.from(grid, (v, i) => Math.abs(out[i] - Math.sin(v))));
    console.log(`sine 1-16-1 tanh: max error ${maxErr.toExponential(2)}`);
    expect(maxErr).toBeLessThan(0.02);
  });

  it.each(['tanh'] as const)('XOR 2-2-1 %s with Adam reaches J < 1e-3 for most of 20 seeds', (activation) => {
    // the lecture's XOR network with another hidden activation
    const spec = parseSpec({ ...XOR_SPEC, layers: [{ units: 2, activation }, XOR_SPEC.layers[1]] });
    const x = Float32Array.from(XOR_X);
    const y = Float32Array.from(XOR_Y);
    let solved = 0;
    for (let seed = 0; seed < 20; seed++) if (train(spec, seed, x, y, 0.05, 2000).loss < 1e-3) solved++;
    console.log(`XOR 2-2-1 ${activation} (Adam): ${solved}/20 seeds reach J < 1e-3`);
    expect(solved).toBeGreaterThan(10);
  });
});

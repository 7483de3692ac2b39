import { syntheticDataset } from '@nnq/data';
import { parseSpec } from '@nnq/nn';
import { describe, expect, it } from 'vitest';
import { fitCurve, fitCurveDue, fitCurveGrid, FIT_CURVE_POINTS, MAX_FIT_CURVES } from './fit-curve';
import { predictRows } from './predict';

const oneD = parseSpec({
  inputSize: 1,
  layers: [
    { units: 4, activation: 'tanh' },
    { units: 1, activation: 'identity' },
  ],
  loss: 'sum_of_squares',
});

describe('fit curve of a 1-D regression', () => {
  it('takes every row of a small set, sorted by x, with its target', () => {
    const d = syntheticDataset({
      type: 'synthetic',
      name: 'sine',
      n: 5,
      seed: 0,
      noise: 0,
      min: -1,
      max: 1,
      frequency: 1,
      amplitude: 1,
    });
    // shuffle the rows: the grid sorts them by x again
    const order = [3, 0, 4, 1, 2];
    const x = Float32Array.from(order, (i) => d.x[i]);
    const y = Float32Array.from(order, (i) => (d.targets.data as Float32Array)[i]);
    const grid = fitCurveGrid(oneD, { ...d, x, targets: { kind: 'values', data: y, width: 1 } })!;
    expect(grid.x).toEqual([-1, -0.5, 0, 0.5, 1]);
    expect(grid.target).toEqual(grid.x.map((v) => Math.fround(Math.sin(v))));
  });

  it(`picks at most ${FIT_CURVE_POINTS} rows evenly, both ends included`, () => {
    const d = syntheticDataset({
      type: 'synthetic',
      name: 'sine',
      n: 1001,
      seed: 0,
      noise: 0,
      min: 0,
      max: 1000,
      frequency: 1,
      amplitude: 1,
    });
    const grid = fitCurveGrid(oneD, d)!;
    expect(grid.x).toHaveLength(FIT_CURVE_POINTS);
    expect(grid.x[0]).toBe(0);
    expect(grid.x.at(-1)).toBe(1000);
    grid.x.slice(1).forEach((v, i) => expect(v).toBeGreaterThan(grid.x[i]));
  });

  it('is none for a classification set or an input wider than 1', () => {
    const xor = syntheticDataset({ type: 'synthetic', name: 'xor', n: 4, seed: 0, noise: 0, task: 'regression' });
    const twoD = parseSpec({ ...oneD, inputSize: 2 });
    expect(fitCurveGrid(twoD, xor)).toBeUndefined();
    const blobs = syntheticDataset({
      type: 'synthetic',
      name: 'blobs',
      n: 30,
      seed: 0,
      noise: 0,
      centers: 3,
      features: 1,
      spread: 1,
      task: 'classification',
    });
    expect(
      fitCurveGrid(parseSpec({ ...oneD, layers: [oneD.layers[0], { units: 3, activation: 'softmax' }] }), blobs),
    ).toBeUndefined();
  });

  it("draws the model's prediction on the grid, as predict does (preprocessing included)", () => {
    const grid = { x: [-2, 0, 3], target: [0, 0, 0] };
    const params = Float32Array.from({ length: 13 }, (_, i) => (i - 6) / 7);
    const model = { spec: oneD, params, preprocessing: { steps: [{ type: 'standardize', mean: [1], std: [2] }] } };
    const curve = fitCurve(grid, model);
    expect(curve.x).toEqual(grid.x);
    expect(curve.prediction).toEqual(predictRows(model, [[-2], [0], [3]]).outputs.map((o) => o[0]));
  });
});

describe('fitCurveDue', () => {
  const drawn = (total: number, every: number) => {
    let last = -Infinity;
    const steps: number[] = [];
    for (let v = every; v <= total; v += every) {
      if (fitCurveDue(v, total, last)) steps.push((last = v));
    }
    return steps;
  };

  it('draws at every evaluation of a run evaluated a few times (every epoch of 10)', () => {
    expect(drawn(300, 30)).toEqual([30, 60, 90, 120, 150, 180, 210, 240, 270, 300]);
  });

  it(`keeps at most ${MAX_FIT_CURVES} + 1 for a run evaluated at every step, the last one included`, () => {
    const steps = drawn(1000, 1);
    expect(steps).toHaveLength(MAX_FIT_CURVES + 1);
    expect(steps.slice(0, 3)).toEqual([1, 11, 21]);
    expect(steps.at(-1)).toBe(1000);
  });
});

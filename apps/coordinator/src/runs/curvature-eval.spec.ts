import { Logger } from '@nestjs/common';
import { loadDataset } from '@nnq/data';
import { createRng } from '@nnq/nn';
import { curvatureHook, parseRunConfig, setupRun, type RunConfigInput } from '@nnq/training';
import { describe, expect, it } from 'vitest';
import { CurvatureEval } from './curvature-eval';

const input = (curvature?: object): RunConfigInput => ({
  name: 'curvature-eval',
  seed: 9,
  dataset: { source: { type: 'synthetic', name: 'blobs', n: 200, seed: 2 } },
  model: {
    inputSize: 2,
    layers: [
      { units: 5, activation: 'tanh' },
      { units: 3, activation: 'softmax' },
    ],
    loss: 'softmax_cross_entropy',
  },
  optimizer: { type: 'sgd', lr: 0.1 },
  batchSize: 32,
  steps: 10,
  evaluation: { every: 5, ...(curvature && { curvature }) },
});

function driverSide(curvature?: object) {
  const config = parseRunConfig(input(curvature));
  const setup = setupRun(config, loadDataset(config.dataset.source!));
  const rng = createRng(4);
  const byVersion = new Map<number, Float32Array>();
  const pulled: number[] = [];
  // what a step strategy holds: parameters per version (random here, as training would move them)
  const steps = {
    pull: async (version: number) => {
      pulled.push(version);
      if (!byVersion.has(version))
        byVersion.set(
          version,
          Float32Array.from({ length: setup.paramCount }, () => rng.normal()),
        );
      return { params: byVersion.get(version)!, state: { kind: 'sgd' } as never };
    },
  };
  return { config, setup, steps, pulled, byVersion, curvature: new CurvatureEval(config, setup, new Logger('t')) };
}

describe('CurvatureEval (the run driver side of evaluation.curvature)', () => {
  it("gives libs/training's numbers at the step strategy's parameters of that version, once per version", async () => {
    const s = driverSide({ iterations: 6, probes: 4, rows: 64 });
    const at5 = await s.curvature.at(5, s.steps);
    // an independent hook on the same config and batch, at the same parameters
    const expected = await curvatureHook(s.config, s.setup)!.once(5, s.byVersion.get(5)!);
    expect(at5).toEqual(expected);
    expect(Number.isFinite(at5.hessianTopEigenvalue)).toBe(true);
    expect(s.pulled).toEqual([5]);
    // the test split's evaluation after the last step: nothing more, no pull
    expect(await s.curvature.at(5, s.steps)).toEqual({});
    expect(s.pulled).toEqual([5]);
    const at10 = await s.curvature.at(10, s.steps);
    expect(at10.hessianTopEigenvalue).not.toBe(at5.hessianTopEigenvalue);
    expect(s.pulled).toEqual([5, 10]);
  });

  it('does nothing, and pulls nothing, for a run without evaluation.curvature', async () => {
    const s = driverSide();
    expect(await s.curvature.at(5, s.steps)).toEqual({});
    expect(s.pulled).toEqual([]);
  });
});

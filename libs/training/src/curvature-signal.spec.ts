import { gatherBatch, loadDataset, type DatasetSourceInput } from '@nnq/data';
import {
  hessianVector64,
  hutchinsonTrace,
  lossAndGrad,
  paramLayout,
  parseSpec,
  topEigenvalue,
  type NetworkSpecInput,
} from '@nnq/nn';
import { describe, expect, it } from 'vitest';
import { XOR_PARAMS, XOR_SPEC } from '../../../test/support/xor';
import { curvatureHook, multiplyAddsPerRow, RunCurvature } from './curvature-signal';
import { parseRunConfig, type RunConfigInput } from './run-config';
import { initialParams, setupRun } from './run-setup';
import { trainLocal, type LocalEngine } from './local-trainer';
import { parseLocalRunConfig } from './second-order-config';
import { localEngine } from '../../../test/support/local-engine';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const spirals: DatasetSourceInput = { type: 'synthetic', name: 'spirals', n: 300, seed: 3, noise: 0.1 };
const mlp: NetworkSpecInput = {
  inputSize: 2,
  layers: [
    { units: 8, activation: 'tanh' },
    { units: 6, activation: 'sigmoid' },
    { units: 2, activation: 'softmax' },
  ],
  loss: 'softmax_cross_entropy',
};

function config(over: Partial<RunConfigInput> = {}, curvature: object | null = {}): RunConfigInput {
  return {
    name: 'curvature',
    seed: 5,
    dataset: { source: spirals },
    model: mlp,
    optimizer: { type: 'adam', lr: 0.01 },
    batchSize: 60,
    shards: 2,
    epochs: 2,
    evaluation: { every: 2, ...(curvature && { curvature }) },
    ...over,
  } as RunConfigInput;
}

/** libs/nn's functions composed by hand: H of the mean loss on the first `rows` train rows. */
async function byHand(cfgIn: RunConfigInput, params: Float32Array) {
  const cfg = parseRunConfig(cfgIn);
  const dataset = loadDataset(cfg.dataset.source!);
  const setup = setupRun(cfg, dataset);
  const c = cfg.evaluation.curvature!;
  const rows = Math.min(c.rows, setup.splits.train.length);
  const batch = gatherBatch(dataset, setup.splits.train.subarray(0, rows), setup.preprocessing);
  const [p, x, y] = [params, batch.x, batch.y].map((a) => Float64Array.from(a));
  const H = (v: Float64Array) => hessianVector64(cfg.model, p, v, x, y, rows).map((h) => h / rows);
  // the seeds curvature-signal.ts derives from the run's seed
  const top = await topEigenvalue(H, p.length, c.iterations, (cfg.seed ^ 0x6a09e667) >>> 0);
  const trace = await hutchinsonTrace(H, p.length, c.probes, (cfg.seed ^ 0xbb67ae85) >>> 0);
  return { hessianTopEigenvalue: top.value, hessianTrace: trace };
}

describe('evaluation.curvature numbers', () => {
  it('equal libs/nn power iteration and Hutchinson on H v of the same fixed batch', async () => {
    for (const curvature of [{}, { iterations: 7, probes: 3, rows: 50 }, { rows: 2048 }]) {
      const cfg = parseRunConfig(config({}, curvature));
      const setup = setupRun(cfg, loadDataset(cfg.dataset.source!));
      const params = initialParams(cfg);
      const got = await curvatureHook(cfg, setup)!.once(3, params);
      expect(got).toEqual(await byHand(config({}, curvature), params));
      expect(Number.isFinite(got.hessianTopEigenvalue) && Number.isFinite(got.hessianTrace)).toBe(true);
    }
  });

  it("give the lecture XOR Hessian's top eigenvalue 24.0435 / 4 (mean over the 4 rows) and its trace", async () => {
    const cfg = parseRunConfig({
      name: 'xor',
      dataset: { source: { type: 'synthetic', name: 'xor', task: 'regression' }, validation: 0, test: 0 },
      model: XOR_SPEC,
      optimizer: { type: 'sgd', lr: 0.1 },
      batchSize: 4,
      steps: 1,
      evaluation: { curvature: { iterations: 50, probes: 64 } },
    });
    const setup = setupRun(cfg, loadDataset(cfg.dataset.source!));
    expect(setup.curvatureBatch!.rows).toBe(4);
    const r = await curvatureHook(cfg, setup)!.once(1, Float32Array.from(XOR_PARAMS));
    expect(r.hessianTopEigenvalue).toBeCloseTo(24.0435 / 4, 4);
    // the exact trace, column by column, and Hutchinson's standard error sqrt(2 sum_{i!=j} H_ij^2 / probes)
    const spec = parseSpec(XOR_SPEC);
    const b = setup.curvatureBatch!;
    const cols = Array.from({ length: 9 }, (_, i) =>
      hessianVector64(
        spec,
        Float64Array.from(XOR_PARAMS),
        Float64Array.from({ length: 9 }, (_, j) => (i === j ? 1 : 0)),
        Float64Array.from(b.x),
        Float64Array.from(b.y),
        4,
      ).map((h) => h / 4),
    );
    const trace = cols.reduce((s, col, i) => s + col[i], 0);
    let off = 0;
    cols.forEach((col, i) => col.forEach((h, j) => (off += i === j ? 0 : h * h)));
    expect(Math.abs(r.hessianTrace! - trace)).toBeLessThan(4 * Math.sqrt((2 * off) / 64));
  });

  it('cover a CNN too (conv, max pooling, flatten), counting each conv cell in the work', async () => {
    const cnnData: DatasetSourceInput = { type: 'synthetic', name: 'blobs', n: 120, features: 36, centers: 3, seed: 1 };
    const cnn: NetworkSpecInput = {
      inputShape: [6, 6, 1],
      layers: [
        { kind: 'conv2d', filters: 3, kernelSize: [3, 3], padding: 'same', activation: 'tanh' },
        { kind: 'maxPool2d', poolSize: [2, 2] },
        { kind: 'flatten' },
        { units: 3, activation: 'softmax' },
      ],
      loss: 'softmax_cross_entropy',
    } as NetworkSpecInput;
    const cfgIn = config({ dataset: { source: cnnData }, model: cnn }, { iterations: 10, probes: 3, rows: 40 });
    const cfg = parseRunConfig(cfgIn);
    // 36 cells x 9 x 3 (conv) + 9 cells x 3 channels x 4 (pool) + 27 x 3 (dense) = 1,161
    expect(multiplyAddsPerRow(paramLayout(cfg.model))).toBe(36 * 9 * 3 + 9 * 3 * 4 + 27 * 3);
    const setup = setupRun(cfg, loadDataset(cfg.dataset.source!));
    const params = initialParams(cfg);
    const got = await curvatureHook(cfg, setup)!.once(1, params);
    expect(got).toEqual(await byHand(cfgIn, params));
    expect(Number.isFinite(got.hessianTopEigenvalue) && Number.isFinite(got.hessianTrace)).toBe(true);
  });

  it('are given once per version (validation and test of the last step share them)', async () => {
    const cfg = parseRunConfig(config());
    const hook = curvatureHook(cfg, setupRun(cfg, loadDataset(cfg.dataset.source!)))!;
    const params = initialParams(cfg);
    expect(hook.due(4)).toBe(true);
    expect(Object.keys(await hook.once(4, params))).toEqual(['hessianTopEigenvalue', 'hessianTrace']);
    expect(hook.due(4)).toBe(false);
    expect(await hook.once(4, params)).toEqual({});
    expect(hook.due(5)).toBe(true);
  });

  it('leave out a non-finite number', async () => {
    const cfg = parseRunConfig(config());
    const setup = setupRun(cfg, loadDataset(cfg.dataset.source!));
    const hook = new RunCurvature(cfg.model, setup.curvatureBatch!, cfg.evaluation.curvature!, cfg.seed);
    expect(await hook.once(1, new Float32Array(setup.paramCount).fill(NaN))).toEqual({});
  });

  it('are off without evaluation.curvature', () => {
    const cfg = parseRunConfig(config({}, null));
    const setup = setupRun(cfg, loadDataset(cfg.dataset.source!));
    expect(setup.curvatureBatch).toBeUndefined();
    expect(curvatureHook(cfg, setup)).toBeNull();
  });
});

describe('evaluation.curvature in trainLocal', () => {
  it('is on the first evaluation of each evaluated step, equal to the hook at those parameters', async () => {
    const cfgIn = config({ epochs: undefined, steps: 4 }, { iterations: 5, probes: 2, rows: 40 });
    const cfg = parseRunConfig(cfgIn);
    const seen: Array<{ step: number; params: Float32Array }> = [];
    let params = initialParams(cfg);
    // the reference network as the engine; it records the parameters of each evaluation
    const engine: LocalEngine = {
      kind: 'reference',
      async lossAndGrad(p, x, y, n) {
        params = p;
        const r = lossAndGrad(cfg.model, p, x, y, n);
        return { loss: r.loss, correct: r.correct, grad: r.grad };
      },
      async dispose() {},
    };
    const result = await trainLocal(cfg, {
      engine: async () => engine,
      onEvaluation: (e) => seen.push({ step: e.step, params: Float32Array.from(params) }),
    });
    const evals = result.evaluations;
    expect(evals.map((e) => [e.split, e.step, e.hessianTopEigenvalue !== undefined])).toEqual([
      ['validation', 2, true],
      ['validation', 4, true],
      ['test', 4, false],
    ]);
    for (const [i, e] of evals.entries()) {
      if (e.hessianTopEigenvalue === undefined) continue;
      expect({ hessianTopEigenvalue: e.hessianTopEigenvalue, hessianTrace: e.hessianTrace }).toEqual(
        await byHand(cfgIn, seen[i].params),
      );
    }
  });
});

describe('evaluation.curvature with a second-order optimizer (in-process)', () => {
  it('is on each evaluation of examples/sine-hessian-free.json, the last as at the final weights', async () => {
    const file = join(__dirname, '..', '..', '..', 'examples', 'sine-hessian-free.json');
    const json = JSON.parse(readFileSync(file, 'utf8')) as { evaluation: object };
    const curvature = { iterations: 30, probes: 8, rows: 64 };
    const { config, secondOrder } = parseLocalRunConfig({ ...json, steps: 20, evaluation: { every: 10, curvature } });
    const result = await trainLocal(config, { engine: localEngine, secondOrder });
    const evals = result.evaluations;
    expect(evals.map((e) => [e.split, e.step, e.hessianTopEigenvalue !== undefined])).toEqual([
      ['validation', 10, true],
      ['validation', 20, true],
    ]);
    const again = await curvatureHook(config, result.setup)!.once(20, result.params);
    expect({ hessianTopEigenvalue: evals[1].hessianTopEigenvalue, hessianTrace: evals[1].hessianTrace }).toEqual(again);
  });
});

describe('evaluation.curvature bounds', () => {
  const refusal = (over: Partial<RunConfigInput>, curvature: object | null = {}) => {
    try {
      parseRunConfig(config(over, curvature));
    } catch (err) {
      return (err as { problems: string[] }).problems.join('\n');
    }
    return 'accepted';
  };
  const wide = (inputSize: number, units: number[]): NetworkSpecInput => ({
    inputSize,
    layers: units.map((u, i) => ({ units: u, activation: i === units.length - 1 ? 'softmax' : 'relu' })),
    loss: 'softmax_cross_entropy',
  });

  it('has defaults and fixed maxima, named by path', () => {
    expect(parseRunConfig(config()).evaluation.curvature).toEqual({ iterations: 20, probes: 10, rows: 256 });
    expect(refusal({}, { iterations: 0 })).toMatch(/^evaluation\.curvature\.iterations: must be at least 1$/);
    expect(refusal({}, { iterations: 65 })).toMatch(/^evaluation\.curvature\.iterations: must be at most 64$/);
    expect(refusal({}, { probes: 65 })).toMatch(/^evaluation\.curvature\.probes: must be at most 64$/);
    expect(refusal({}, { rows: 2049 })).toMatch(/^evaluation\.curvature\.rows: must be at most 2048$/);
    expect(refusal({}, { rows: 1.5 })).toMatch(/^evaluation\.curvature\.rows: must be an integer$/);
    expect(refusal({}, { seed: 1 })).toMatch(/^evaluation\.curvature: .*"seed"/);
  });

  it("refuses products past their work (one, or one evaluation's) or workspace, saying what fits", () => {
    // 784-512-512-10: 784*512 + 512*512 + 512*10 = 668,672 multiply-adds per row; 2^24 / 668,672 = 25 rows
    expect(refusal({ model: wide(784, [512, 512, 10]) }, { rows: 26 })).toBe(
      'evaluation.curvature.rows: 26 rows x 668672 multiply-adds per row is past the 16777216 of one product ' +
        '(at most 25 rows for this model)',
    );
    expect(refusal({ model: wide(784, [512, 512, 10]) }, { rows: 25, iterations: 10, probes: 6 })).toBe('accepted');
    // one evaluation: (iterations + probes) x rows x multiply-adds per row at most 2^28
    expect(refusal({ model: wide(784, [512, 512, 10]) }, { rows: 25 })).toBe(
      'evaluation.curvature: (iterations + probes) x rows x multiply-adds per row = 30 x 25 x 668672 is past ' +
        'the 268435456 of one evaluation: fewer products or rows',
    );
    // 4096 inputs into 2 units: little work per row, a wide workspace (x and its R-term per row)
    expect(refusal({ model: wide(4096, [2]) }, { rows: 1800, iterations: 1, probes: 1 })).toMatch(
      /^evaluation\.curvature\.rows: needs about \d+ MiB of float64 workspace, at most 128$/,
    );
  });
});

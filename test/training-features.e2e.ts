import { createTrainingEngine } from '@nnq/engine-onnx';
import { flatMask, parseSpec } from '@nnq/nn';
import { parseRunConfig, trainLocal, type RunConfigInput } from '@nnq/training';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TestCluster } from './support/cluster';
import { modelParams, submitRun, waitForRun } from './support/runs';

// Every option of the math that no other cluster test uses, in one run: relu, masks, a concat and
// an add skip, SGD with momentum, weight decay, gradient clipping and a warmup + cosine schedule.
// Two worker processes must end with the bytes of the in-process trainer.

/** A deterministic 0/1 pattern with some zeros in every row. */
const mask = (rows: number, cols: number, k: number): (0 | 1)[][] =>
  Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => ((i * 7 + j * 3 + k) % 5 ? 1 : 0)));

const config = {
  name: 'every-option',
  seed: 11,
  dataset: {
    source: { type: 'synthetic', name: 'spirals', n: 800, seed: 2, noise: 0.05, turns: 1.5 },
    validation: 0.1,
    test: 0.1,
    preprocessing: { standardize: true },
  },
  model: {
    inputSize: 2,
    layers: [
      { units: 16, activation: 'relu', mask: mask(2, 16, 0) },
      // fanIn 16 + 2: h(1) and, by the concat skip, the input h(0)
      { units: 16, activation: 'relu', mask: mask(18, 16, 1) },
      // h(2) + h(1) by the add skip
      { units: 2, activation: 'softmax' },
    ],
    skips: [
      { from: 0, to: 2, mode: 'concat' },
      { from: 1, to: 3, mode: 'add' },
    ],
    loss: 'softmax_cross_entropy',
  },
  optimizer: { type: 'momentum', lr: 0.2, momentum: 0.9, weightDecay: 0.001, clipNorm: 0.5 },
  schedule: { type: 'cosine', warmupSteps: 6, totalSteps: 40, minLr: 0.01 },
  batchSize: 64,
  shards: 4,
  steps: 40,
  evaluation: { every: 20 },
} satisfies RunConfigInput;

const bytesOf = (p: Float32Array) => Buffer.from(p.buffer, p.byteOffset, p.byteLength);

describe('a run with relu, masks, skips, momentum, weight decay, clipping and a schedule', () => {
  const cluster = new TestCluster(inject('redisUrl'), 'features');
  let local: Awaited<ReturnType<typeof trainLocal>>;

  beforeAll(async () => {
    local = await trainLocal(parseRunConfig(config), { engine: createTrainingEngine });
    await cluster.startCoordinator();
    await Promise.all([cluster.addWorker(), cluster.addWorker()]);
    await cluster.waitForWorkers(2);
  });

  afterAll(() => cluster.stop());

  it('uses every option in-process: each one changes the weights, the masked ones stay 0', async () => {
    const { steps, params } = local;
    // warmup 0.2/6, 0.4/6, ... up to 0.2, then cosine down towards 0.01
    expect(steps[0].lr).toBeCloseTo(0.2 / 6, 12);
    expect(steps[5].lr).toBeCloseTo(0.2, 12);
    expect(steps[39].lr).toBeLessThan(0.02);
    // the pre-clip norm passes clipNorm on some steps and not on others
    expect(steps.some((s) => s.gradNorm > 0.5)).toBe(true);
    expect(steps.some((s) => s.gradNorm < 0.5)).toBe(true);
    expect(steps[39].loss).toBeLessThan(steps[0].loss);
    const m = flatMask(parseSpec(config.model))!;
    expect(m.filter((v) => v === 0).length).toBeGreaterThan(50);
    m.forEach((v, i) => v === 0 && expect(params[i]).toBe(0));
    // the same run without one of them ends elsewhere
    const { momentum: _, ...sgd } = { ...config.optimizer, type: 'sgd' };
    const without: Record<string, RunConfigInput> = {
      'weight decay': { ...config, optimizer: { ...config.optimizer, weightDecay: 0 } },
      clipping: { ...config, optimizer: { ...config.optimizer, clipNorm: undefined } },
      momentum: { ...config, optimizer: sgd as RunConfigInput['optimizer'] },
      schedule: { ...config, schedule: { type: 'constant' } },
    };
    for (const [option, c] of Object.entries(without)) {
      const other = bytesOf((await trainLocal(parseRunConfig(c), { engine: createTrainingEngine })).params);
      expect(other.equals(bytesOf(params)), `without ${option}`).toBe(false);
    }
  });

  it('ends on 2 worker processes with the bytes of trainLocal', async () => {
    const run = await submitRun(cluster.base, config);
    const done = await waitForRun(cluster.base, run.id, 120_000);
    expect(done.state).toBe('completed');
    expect(done.step).toBe(40);
    expect((await modelParams(cluster.base, run.id)).equals(bytesOf(local.params))).toBe(true);
    // and both workers computed gradient shards of it
    for (const w of cluster.workers) {
      const metrics = await (await fetch(`${w.url}/metrics`)).text();
      const shards = Number(/^nnq_shards_total\{kind="gradient",app="worker"\} (\d+)$/m.exec(metrics)?.[1]);
      expect(shards, w.url).toBeGreaterThan(0);
    }
  });
});

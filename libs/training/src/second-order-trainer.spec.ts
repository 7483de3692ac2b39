import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { localEngine } from '../../../test/support/local-engine';
import { trainLocal, type LocalEngineFactory } from './local-trainer';
import { NonFiniteError } from './non-finite';
import { parseRunConfig, RunConfigError } from './run-config';
import { parseLocalRunConfig } from './second-order-config';

const exampleJson = (name: string) =>
  JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'examples', name), 'utf8')) as Record<string, unknown>;

function problemsOf(f: () => unknown): string[] {
  try {
    f();
  } catch (err) {
    if (err instanceof RunConfigError) return err.problems;
    throw err;
  }
  throw new Error('no RunConfigError');
}

describe('second-order optimizers in the run config', () => {
  it('the first-order parse (sweeps) refuses them by optimizer.type', () => {
    for (const name of ['xor-lbfgs.json', 'sine-hessian-free.json']) {
      expect(problemsOf(() => parseRunConfig(exampleJson(name)))).toEqual([
        expect.stringMatching(/^optimizer\.type: (lbfgs|hessian_free) is a second-order optimizer: a run takes it/),
      ]);
    }
  });

  it('the in-process parse accepts them, with plain SGD standing in for config.optimizer', () => {
    const { config, secondOrder } = parseLocalRunConfig(exampleJson('xor-lbfgs.json'));
    expect(secondOrder).toEqual({
      type: 'lbfgs',
      history: 10,
      c1: 1e-4,
      c2: 0.9,
      maxLineSearch: 25,
      gradTolerance: 1e-12,
    });
    expect(config.optimizer.type).toBe('sgd');
    expect(parseLocalRunConfig(exampleJson('xor.json')).secondOrder).toBeNull();
  });

  it('lists every problem by path: of the optimizer and of the rest', () => {
    const optimizer = { type: 'hessian_free', maxCgIterations: 0, decay: 2, lr: 1 };
    const json = { ...exampleJson('sine-hessian-free.json'), batchSize: 0, optimizer };
    const problems = problemsOf(() => parseLocalRunConfig(json));
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^optimizer\.maxCgIterations: must be at least 1/),
        expect.stringMatching(/^optimizer\.decay: must be at most 1/),
        expect.stringMatching(/^optimizer: .*lr/),
        expect.stringMatching(/^batchSize: must be at least 1/),
      ]),
    );
  });
});

describe('trainLocal with a second-order optimizer', () => {
  it('fits XOR with L-BFGS (examples/xor-lbfgs.json) to J < 1e-6, to the same bytes twice', async () => {
    const { config, secondOrder } = parseLocalRunConfig(exampleJson('xor-lbfgs.json'));
    const run = () => trainLocal(config, { engine: localEngine, secondOrder });
    const [a, b] = [await run(), await run()];
    const first = a.steps[0].loss;
    const last = a.steps.at(-1)!.loss;
    expect(last).toBeLessThan(1e-6 / 4); // mean of J over the 4 points, J = 1/2 sum e^2
    expect(last).toBeLessThan(first);
    expect(Buffer.from(a.params.buffer).equals(Buffer.from(b.params.buffer))).toBe(true);
    if (a.stopped) expect(a.stopped).toMatch(/lbfgs (converged|line search failed)/);
  });

  it('fits sin with Hessian-free (sine-hessian-free.json, 60 steps) below 1e-4, same bytes twice', async () => {
    const { config, secondOrder } = parseLocalRunConfig({ ...exampleJson('sine-hessian-free.json'), steps: 60 });
    const run = () => trainLocal(config, { engine: localEngine, secondOrder });
    const [a, b] = [await run(), await run()];
    expect(a.steps).toHaveLength(60);
    expect(a.stopped).toBeUndefined();
    expect(a.steps.at(-1)!.loss).toBeLessThan(1e-4);
    expect(a.evaluations.filter((e) => e.split === 'validation').at(-1)!.loss).toBeLessThan(1e-3);
    expect(Buffer.from(a.params.buffer).equals(Buffer.from(b.params.buffer))).toBe(true);
  });

  it('runs a fixed batch per outer step when batchSize is below the train split', async () => {
    const json = { ...exampleJson('sine-hessian-free.json'), batchSize: 32, steps: 6, optimizer: { type: 'lbfgs' } };
    const { config, secondOrder } = parseLocalRunConfig(json);
    const r = await trainLocal(config, { engine: localEngine, secondOrder });
    expect(r.steps).toHaveLength(6);
    expect(r.steps.every((s) => Number.isFinite(s.loss))).toBe(true);
    expect(r.steps.at(-1)!.loss).toBeLessThan(r.steps[0].loss);
  });

  /** The run's engine, with a loss that turns NaN from its 6th pass on. */
  const poisonedAfter5 = (): LocalEngineFactory => {
    let calls = 0;
    return async (spec) => {
      const inner = await localEngine(spec);
      return {
        kind: 'poisoned',
        lossAndGrad: async (...args) => {
          const r = await inner.lossAndGrad(...args);
          return ++calls > 5 ? { ...r, loss: NaN } : r;
        },
        dispose: () => inner.dispose(),
      };
    };
  };

  it('Hessian-free: a NaN loss at the start of a step fails the run with a NonFiniteError', async () => {
    const { config, secondOrder } = parseLocalRunConfig({ ...exampleJson('sine-hessian-free.json'), steps: 10 });
    const losses: number[] = [];
    const run = trainLocal(config, { engine: poisonedAfter5(), secondOrder, onStep: (r) => losses.push(r.loss) });
    await expect(run).rejects.toThrow(NonFiniteError);
    await expect(run).rejects.toThrow(/the parameters of step \d+ are kept/);
    expect(losses.every(Number.isFinite)).toBe(true);
  });

  it('L-BFGS: NaN inside a line search stops the run with the reason and finite parameters', async () => {
    const { config, secondOrder } = parseLocalRunConfig({ ...exampleJson('xor-lbfgs.json'), steps: 10 });
    const r = await trainLocal(config, { engine: poisonedAfter5(), secondOrder });
    expect(r.stopped).toMatch(/^lbfgs line search failed at step \d+: .*\(no decrease of J = [\d.e+-]+\)$/);
    expect(r.params.every(Number.isFinite)).toBe(true);
    expect(r.steps.every((s) => Number.isFinite(s.loss))).toBe(true);
  });
});

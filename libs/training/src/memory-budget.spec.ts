import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_COORDINATOR_MEMORY_MB,
  DEFAULT_WORKER_MEMORY_MB,
  estimateRunMemory,
  MB,
  memoryBudgetProblems,
  predictBudgetProblem,
  predictMemoryBytes,
} from './memory-budget';
import { parseRunConfig, type RunConfigInput } from './run-config';
import { parseLocalRunConfig } from './second-order-config';

const examples = join(__dirname, '..', '..', '..', 'examples');
const json = (name: string) => JSON.parse(readFileSync(join(examples, name), 'utf8')) as Record<string, unknown>;
const budgets = { workerMb: DEFAULT_WORKER_MEMORY_MB, coordinatorMb: DEFAULT_COORDINATOR_MEMORY_MB };

/** One hidden layer of `units` between 2 inputs and 2 outputs (the network). */
function wide(units: number, over: Partial<RunConfigInput> = {}) {
  return parseRunConfig({
    name: 'wide',
    dataset: { source: { type: 'synthetic', name: 'xor', n: 64, seed: 1, task: 'regression' } },
    model: {
      inputSize: 2,
      layers: [
        { units, activation: 'relu' },
        { units: 2, activation: 'identity' },
      ],
      loss: 'sum_of_squares',
    },
    optimizer: { type: 'adam', lr: 0.01 },
    batchSize: 1600,
    steps: 1,
    ...over,
  });
}

describe('memory budget of a run', () => {
  it.each(readdirSync(examples).filter((f) => f.endsWith('.json') && !f.startsWith('sweep-')))(
    'lets the example %s through at the default budgets',
    (file) => {
      // parseLocalRunConfig: the second-order examples' config has a stand-in optimizer
      expect(memoryBudgetProblems(parseLocalRunConfig(json(file)).config, budgets)).toEqual([]);
    },
  );

  it('refuses a 1,000,000-unit layer at batch 1600, naming the estimate, the budget and the layer', () => {
    const problems = memoryBudgetProblems(wide(1_000_000), budgets);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      new RegExp(
        String.raw`^model\.layers\[0\]\.units: a 2048-row evaluation shard needs about [\d,]+ MB \(\d+ bytes: ` +
          String.raw`activations [\d,]+ MB, parameters [\d,]+ MB\) on a worker, over its budget of 2,048 MB ` +
          String.raw`\(NNQ_WORKER_MEMORY_MB\); the biggest layer is model\.layers\[0\] \(1000000 units\): lower ` +
          String.raw`evaluation\.rowsPerShard, or make it smaller$`,
      ),
    );
  });

  it('names the gradient shard when it is the bigger job: rows = batchSize / shards, rounded up', () => {
    const config = wide(1_000_000, { evaluation: { every: 0, rowsPerShard: 16 } });
    const e = estimateRunMemory(config);
    expect(e.worker).toMatchObject({ kind: 'gradient', rows: 1600 });
    // inputs 2 + units 1,000,000 + outputs 2, 24 bytes a unit and row: about 38 GB
    expect(e.worker.activations).toBe(1600 * 1_000_004 * 24);
    expect(e.worker.params).toBe(12 * 4 * e.paramCount);
    expect(memoryBudgetProblems(config, budgets)[0]).toMatch(
      new RegExp(
        String.raw`^model\.layers\[0\]\.units: a 1600-row gradient shard needs about 36,851 MB \(38640153696 ` +
          String.raw`bytes: activations 36,622 MB, parameters 229 MB\) .*: raise shards or lower batchSize, or ` +
          String.raw`make it smaller$`,
      ),
    );
    expect(estimateRunMemory({ ...config, shards: 7 }).worker.rows).toBe(229);
  });

  it('lets the same layer through with small shards, and a larger budget lets the big one through', () => {
    const small = wide(1_000_000, { batchSize: 16, evaluation: { every: 0, rowsPerShard: 16 } });
    expect(memoryBudgetProblems(small, budgets)).toEqual([]);
    expect(memoryBudgetProblems(wide(1_000_000), { ...budgets, workerMb: 64 * 1024 })).toEqual([]);
  });

  it('bounds the coordinator: parameters and optimizer state, by NNQ_COORDINATOR_MEMORY_MB', () => {
    const config = parseRunConfig({
      ...json('xor.json'),
      model: {
        inputSize: 1 << 20,
        layers: [{ units: 60, activation: 'identity' }],
        loss: 'sum_of_squares',
      },
    });
    const e = estimateRunMemory(config);
    // Adam: two moments, held and written to a checkpoint; 8 float32 copies of the parameters
    expect(e.coordinator.optimizer).toBe(2 * 2 * 4 * e.paramCount);
    expect(e.coordinator.total).toBe((8 + 4) * 4 * e.paramCount);
    const problems = memoryBudgetProblems(config, { workerMb: 1 << 20, coordinatorMb: 2048 });
    expect(problems).toEqual([
      expect.stringMatching(
        new RegExp(
          String.raw`^model\.layers\[0\]\.units: the network's 62914620 parameters need about 2,881 MB \(\d+ ` +
            String.raw`bytes: parameter copies 1,921 MB, adam state 961 MB\) on the coordinator, over its budget ` +
            String.raw`of 2,048 MB \(NNQ_COORDINATOR_MEMORY_MB\); the biggest layer is model\.layers\[0\] ` +
            String.raw`\(62914620 parameters, 60 units\)$`,
        ),
      ),
    ]);
    const sgd = { ...config, optimizer: { type: 'sgd' as const, lr: 0.1, weightDecay: 0 } };
    expect(estimateRunMemory(sgd).coordinator.optimizer).toBe(0);
  });

  it('names the layer holding the most of the estimate', () => {
    const config = parseRunConfig({
      ...json('xor.json'),
      model: {
        inputSize: 2,
        layers: [
          { units: 8, activation: 'tanh' },
          { units: 500_000, activation: 'tanh' },
          { units: 1, activation: 'identity' },
        ],
        loss: 'sum_of_squares',
      },
    });
    expect(estimateRunMemory(config).biggestLayer).toBe(1);
    expect(memoryBudgetProblems(config, budgets)[0]).toMatch(/^model\.layers\[1\]\.units: .*\(500000 units\)/);
  });
});

describe('memory budget of a CNN run', () => {
  it("counts every cell of a conv layer's output and names the layer without units", () => {
    const cnn = json('fashion-mnist-cnn.json');
    // the example's 512-row evaluation shards fit; 2048-row ones (the default) do not
    expect(memoryBudgetProblems(parseRunConfig(cnn), budgets)).toEqual([]);
    const big = parseRunConfig({ ...cnn, evaluation: { every: 0, rowsPerShard: 2048 } });
    expect(memoryBudgetProblems(big, budgets)[0]).toMatch(
      new RegExp(
        String.raw`^model\.layers\[0\]: a 2048-row evaluation shard needs about [\d,]+ MB .* ` +
          String.raw`the biggest layer is model\.layers\[0\] \(25088 values per row\)`,
      ),
    );
  });
});

describe('memory budget of a prediction', () => {
  const spec = wide(1_000_000).model;

  it('refuses 100 rows through a 1,000,000-unit layer, with the estimate', () => {
    expect(predictMemoryBytes(spec, 100)).toBeGreaterThan(2_000 * MB);
    expect(predictBudgetProblem(spec, 100)).toMatch(
      new RegExp(
        String.raw`^inputs: 100 rows through layers up to 1000000 units wide need about 2,\d{3} MB \(\d+ ` +
          String.raw`bytes\), over the 512 MB a prediction may use: send fewer rows per request$`,
      ),
    );
    expect(predictBudgetProblem(spec, 5)).toBeNull();
  });

  it('lets 10,000 rows of the Fashion-MNIST MLP through', () => {
    expect(predictBudgetProblem(parseRunConfig(json('fashion-mnist.json')).model, 10_000)).toBeNull();
  });
});

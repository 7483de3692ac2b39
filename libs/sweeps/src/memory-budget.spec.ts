import { DEFAULT_COORDINATOR_MEMORY_MB, DEFAULT_WORKER_MEMORY_MB } from '@nnq/training';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSweepConfig } from './sweep-config';

const json = (name: string) =>
  JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'examples', name), 'utf8')) as Record<string, unknown>;
const budgets = { workerMb: DEFAULT_WORKER_MEMORY_MB, coordinatorMb: DEFAULT_COORDINATOR_MEMORY_MB };

describe('memory budget of a sweep', () => {
  it("refuses a sweep whose grid value makes a trial over the budget, by the value's path", () => {
    const sweep = json('sweep-spirals.json');
    const space = { 'model.layers[0].units': { type: 'grid', values: [64, 1_000_000] } };
    expect(() => parseSweepConfig({ ...sweep, space }, budgets)).toThrow(
      new RegExp(
        String.raw`space\["model\.layers\[0\]\.units"\]: model\.layers\[0\]\.units=1000000 gives a run over ` +
          String.raw`the memory budget: model\.layers\[0\]\.units: a 2048-row evaluation shard needs about`,
      ),
    );
    // without budgets (a sweep continued at boot) the structure alone is checked
    expect(() => parseSweepConfig({ ...sweep, space })).not.toThrow();
  });
});

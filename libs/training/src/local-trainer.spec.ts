import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { localEngine } from '../../../test/support/local-engine';
import { trainLocal, type LocalEngineFactory } from './local-trainer';
import { parseRunConfig } from './run-config';

const example = (name: string) =>
  parseRunConfig(JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'examples', name), 'utf8')));

describe('trainLocal', () => {
  it('fits XOR from examples/xor.json', async () => {
    const r = await trainLocal(example('xor.json'), { engine: localEngine });
    expect(r.steps).toHaveLength(400);
    expect(r.steps.at(-1)!.loss).toBeLessThan(1e-3);
  });

  it('is a function of the config: two runs give identical bytes', async () => {
    const cfg = { ...example('xor.json'), steps: 30 };
    const [a, b] = [await trainLocal(cfg, { engine: localEngine }), await trainLocal(cfg, { engine: localEngine })];
    expect(Buffer.from(a.params.buffer).equals(Buffer.from(b.params.buffer))).toBe(true);
  });

  it('computes with the engine it is given, and disposes it', async () => {
    let batches = 0;
    let disposed = 0;
    const counting: LocalEngineFactory = async (spec) => {
      const inner = await localEngine(spec);
      return {
        kind: 'counting',
        lossAndGrad: (...args) => {
          batches++;
          return inner.lossAndGrad(...args);
        },
        dispose: () => {
          disposed++;
          return inner.dispose();
        },
      };
    };
    const cfg = { ...example('xor.json'), steps: 5 };
    const r = await trainLocal(cfg, { engine: counting });
    expect(r.engine).toBe('counting');
    expect(batches).toBeGreaterThanOrEqual(5 * cfg.shards);
    expect(disposed).toBe(1);
  });

  it('separates two spirals (validation accuracy >= 0.95)', async () => {
    const r = await trainLocal(example('spirals.json'), { engine: localEngine });
    const val = r.evaluations.filter((e) => e.split === 'validation').at(-1)!;
    const test = r.evaluations.find((e) => e.split === 'test')!;
    expect(val.accuracy).toBeGreaterThanOrEqual(0.95);
    expect(test.rows).toBe(200);
  });
});

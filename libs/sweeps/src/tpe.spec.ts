import { describe, expect, it } from 'vitest';
import { sampleRandom } from './random';
import { ParameterSchema, type Parameter, type TrialParams } from './search-space';
import { suggestTpe, type Observation } from './tpe';

const space: Record<string, Parameter> = {
  x: ParameterSchema.parse({ type: 'uniform', min: -5, max: 5 }),
  lr: ParameterSchema.parse({ type: 'loguniform', min: 1e-5, max: 1 }),
  act: ParameterSchema.parse({ type: 'choice', values: ['a', 'b', 'c', 'd'] }),
};

// a scripted objective: best at x = 2, lr = 1e-2, act = 'c'
const objective = (p: TrialParams) =>
  ((p.x as number) - 2) ** 2 + (Math.log10(p.lr as number) + 2) ** 2 + (p.act === 'c' ? 0 : 3);

function run(seed: number, n: number): { trials: TrialParams[]; losses: number[] } {
  const obs: Observation[] = [];
  const trials: TrialParams[] = [];
  for (let k = 0; k < n; k++) {
    const p = suggestTpe(space, seed, k, obs, { startupTrials: 8, gamma: 0.25, candidates: 24 });
    trials.push(p);
    obs.push({ params: p, loss: objective(p) });
  }
  return { trials, losses: obs.map((o) => o.loss) };
}

describe('TPE', () => {
  it('is reproducible from the seed: the same seed, the same trials', () => {
    expect(run(11, 40)).toEqual(run(11, 40));
    expect(run(12, 40).trials).not.toEqual(run(11, 40).trials);
  });

  it('suggests random trials during start-up, the same as random search', () => {
    const { trials } = run(3, 8);
    expect(trials).toEqual(Array.from({ length: 8 }, (_, k) => sampleRandom(space, 3, k)));
  });

  it('beats random search on a scripted objective (median best over 10 seeds)', () => {
    const bestTpe: number[] = [];
    const bestRandom: number[] = [];
    for (let seed = 0; seed < 10; seed++) {
      bestTpe.push(Math.min(...run(seed, 40).losses));
      bestRandom.push(Math.min(...Array.from({ length: 40 }, (_, k) => objective(sampleRandom(space, seed, k)))));
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[5];
    expect(med(bestTpe)).toBeLessThan(med(bestRandom));
  });

  it('keeps suggestions inside the space', () => {
    for (const t of run(5, 30).trials) {
      expect(t.x as number).toBeGreaterThanOrEqual(-5);
      expect(t.x as number).toBeLessThanOrEqual(5);
      expect(t.lr as number).toBeGreaterThanOrEqual(1e-5);
      expect(t.lr as number).toBeLessThanOrEqual(1);
      expect(['a', 'b', 'c', 'd']).toContain(t.act);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { sampleRandom } from './random';
import { ParameterSchema, type Parameter } from './search-space';

const space: Record<string, Parameter> = {
  lr: ParameterSchema.parse({ type: 'loguniform', min: 1e-4, max: 1e-1 }),
  units: ParameterSchema.parse({ type: 'int', min: 8, max: 128, step: 8 }),
  width: ParameterSchema.parse({ type: 'int', min: 1, max: 1024, log: true }),
  momentum: ParameterSchema.parse({ type: 'uniform', min: 0.5, max: 0.99 }),
  activation: ParameterSchema.parse({ type: 'choice', values: ['tanh', 'relu', 'sigmoid'] }),
};

describe('random search', () => {
  it('is reproducible from the seed, trial by trial, whatever order trials are drawn in', () => {
    const a = Array.from({ length: 20 }, (_, k) => sampleRandom(space, 42, k));
    const b = Array.from({ length: 20 }, (_, k) => sampleRandom(space, 42, 19 - k)).reverse();
    expect(b).toEqual(a);
    expect(sampleRandom(space, 43, 0)).not.toEqual(a[0]);
  });

  it('stays inside every range, on the int step, and covers the choices', () => {
    const draws = Array.from({ length: 500 }, (_, k) => sampleRandom(space, 7, k));
    for (const d of draws) {
      expect(d.lr as number).toBeGreaterThanOrEqual(1e-4);
      expect(d.lr as number).toBeLessThanOrEqual(1e-1);
      expect((d.units as number) % 8).toBe(0);
      expect(d.units as number).toBeGreaterThanOrEqual(8);
      expect(d.units as number).toBeLessThanOrEqual(128);
      expect(Number.isInteger(d.width)).toBe(true);
      expect(d.width as number).toBeGreaterThanOrEqual(1);
      expect(d.width as number).toBeLessThanOrEqual(1024);
      expect(d.momentum as number).toBeGreaterThanOrEqual(0.5);
      expect(d.momentum as number).toBeLessThan(0.99);
    }
    expect(new Set(draws.map((d) => d.activation))).toEqual(new Set(['tanh', 'relu', 'sigmoid']));
    // log-uniform: about a third of the draws in each decade
    const low = draws.filter((d) => (d.lr as number) < 1e-3).length;
    expect(low).toBeGreaterThan(120);
    expect(low).toBeLessThan(210);
  });
});

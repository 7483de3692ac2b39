import { describe, expect, it } from 'vitest';
import { parseOptimizerConfig } from './optimizers';
import { ProblemsError } from '@nnq/problems';
import { parseSpec, SpecError } from './spec';

describe("libs/nn's refusals are ProblemsErrors", () => {
  it('is named for the subclass that refuses (SpecError), which stays an instanceof both', () => {
    let caught: unknown;
    try {
      parseSpec({ inputSize: 0, layers: [] });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SpecError);
    expect(caught).toBeInstanceOf(ProblemsError);
    expect((caught as Error).name).toBe('SpecError');
    expect((caught as Error).message).toMatch(/^invalid network spec:\n {2}inputSize: /);
  });

  it("names an optimizer config's problems by field, not as the environment's ConfigError", () => {
    expect(() => parseOptimizerConfig({ type: 'adam', lr: -1 })).toThrow(/^invalid optimizer config:\n {2}lr: /);
    try {
      parseOptimizerConfig({ type: 'adam', lr: -1 });
    } catch (err) {
      expect((err as Error).name).toBe('ProblemsError');
    }
  });
});

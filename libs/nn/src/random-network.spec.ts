import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { randomCase } from './random-network';

describe('randomCase: the random networks of the gradient checks', () => {
  it('gives every softmax layer at least 2 units (one unit is a constant with a zero gradient)', () => {
    const softmaxUnits = fc
      .sample(randomCase, { numRuns: 500, seed: 3 })
      .flatMap(({ spec }) => spec.layers.filter((l) => l.activation === 'softmax').map((l) => l.units));
    expect(softmaxUnits.length).toBeGreaterThan(50);
    expect(Math.min(...softmaxUnits)).toBeGreaterThanOrEqual(2);
    expect(softmaxUnits).toContain(3);
  });
});

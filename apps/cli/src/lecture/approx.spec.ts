import { describe, expect, it } from 'vitest';
import { approximate, targetGrid } from './approx';

describe('universal approximation, measured', () => {
  it('lays the grid on [-1, 1] with 0 on it for an odd count', () => {
    const { x, y } = targetGrid('step', 5);
    expect(Array.from(x)).toEqual([-1, -0.5, 0, 0.5, 1]);
    expect(Array.from(y)).toEqual([0, 0, 1, 1, 1]);
    expect(Array.from(targetGrid('abs', 3).y)).toEqual([1, 0, 1]);
  });

  it('one unit cannot beat 1/2 on |x| (a monotone f); 16 units can', () => {
    const { fits } = approximate({
      target: 'abs',
      units: [1, 16],
      activation: 'relu',
      points: 21,
      steps: 3000,
      lr: 0.01,
      seed: 1,
    });
    expect(fits[0].maxError).toBeGreaterThanOrEqual(0.5 - 1e-6);
    expect(fits[1].maxError).toBeLessThan(0.1);
    fits.forEach((f) => expect(f.outputs).toHaveLength(21));
  });
});

import { describe, expect, it } from 'vitest';
import { enumerateGrid, gridSize } from './grid';
import type { Parameter } from './search-space';

describe('grid', () => {
  const space: Record<string, Parameter> = {
    'optimizer.lr': { type: 'grid', values: [0.1, 0.01, 0.001] },
    'model.layers[0].units': { type: 'choice', values: [16, 64] },
    activation: { type: 'grid', values: ['tanh', 'relu'] },
    dropout: { type: 'uniform', min: 0, max: 1 },
  };

  it('enumerates exactly the product of its values, each point once, first parameter slowest', () => {
    const points = enumerateGrid(space);
    expect(gridSize(space)).toBe(12);
    expect(points).toHaveLength(12);
    const product: unknown[] = [];
    for (const lr of [0.1, 0.01, 0.001])
      for (const units of [16, 64])
        for (const activation of ['tanh', 'relu'])
          product.push({ 'optimizer.lr': lr, 'model.layers[0].units': units, activation });
    expect(points).toEqual(product);
    expect(new Set(points.map((p) => JSON.stringify(p))).size).toBe(12);
  });

  it.each([
    [[1], 1],
    [[1, 2, 3, 4, 5], 5],
  ])('a single parameter of values %j has %i points', (values, n) => {
    expect(enumerateGrid({ a: { type: 'grid', values } })).toEqual(values.map((v) => ({ a: v })));
    expect(gridSize({ a: { type: 'grid', values } })).toBe(n);
  });
});

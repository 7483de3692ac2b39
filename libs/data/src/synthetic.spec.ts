import { describe, expect, it } from 'vitest';
import { loadDataset } from './load';
import type { DatasetSourceInput } from './source';

describe('synthetic datasets', () => {
  it('xor is the truth table', () => {
    const d = loadDataset({ type: 'synthetic', name: 'xor' });
    expect(Array.from(d.x)).toEqual([0, 0, 0, 1, 1, 0, 1, 1]);
    expect(Array.from(d.targets.data)).toEqual([0, 1, 1, 0]);
    expect(d.classes).toEqual(['0', '1']);
    const r = loadDataset({ type: 'synthetic', name: 'xor', task: 'regression' });
    expect(r.targets).toMatchObject({ kind: 'values', width: 1 });
    expect(Array.from(r.targets.data)).toEqual([0, 1, 1, 0]);
  });

  it('sine samples y = sin(x) on a grid', () => {
    const d = loadDataset({ type: 'synthetic', name: 'sine', n: 5 });
    expect(d.x[0]).toBeCloseTo(-Math.PI, 5);
    expect(d.x[4]).toBeCloseTo(Math.PI, 5);
    expect(d.targets.data[1]).toBeCloseTo(-1, 5);
    expect(d.task).toBe('regression');
  });

  for (const name of ['spirals', 'blobs', 'circles'] as const) {
    it(`${name} is a function of its seed`, () => {
      const a = loadDataset({ type: 'synthetic', name, n: 101, seed: 3, noise: 0.1 } as DatasetSourceInput);
      const b = loadDataset({ type: 'synthetic', name, n: 101, seed: 3, noise: 0.1 } as DatasetSourceInput);
      const c = loadDataset({ type: 'synthetic', name, n: 101, seed: 4, noise: 0.1 } as DatasetSourceInput);
      expect(a.rows).toBe(101);
      expect(Array.from(a.x)).toEqual(Array.from(b.x));
      expect(Array.from(a.x)).not.toEqual(Array.from(c.x));
      expect(a.x.every(Number.isFinite)).toBe(true);
    });
  }

  it('circles put class 1 on the inner circle', () => {
    const d = loadDataset({ type: 'synthetic', name: 'circles', n: 20, factor: 0.3 });
    for (let i = 0; i < d.rows; i++) {
      const r = Math.hypot(d.x[2 * i], d.x[2 * i + 1]);
      expect(r).toBeCloseTo(d.targets.data[i] === 0 ? 1 : 0.3, 5);
    }
  });

  it('blobs honour centers and features', () => {
    const d = loadDataset({ type: 'synthetic', name: 'blobs', n: 30, centers: 5, features: 3 });
    expect(d.features).toBe(3);
    expect(d.classes).toHaveLength(5);
  });
});

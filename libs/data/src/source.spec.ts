import { describe, expect, it } from 'vitest';
import { SourceError } from './errors';
import { FASHION_MNIST_DIR, absoluteSource, datasetSourceJsonSchema, fashionMnistSource, parseSource } from './source';

describe('DatasetSource', () => {
  it('fills defaults', () => {
    expect(parseSource({ type: 'synthetic', name: 'xor' })).toEqual({
      type: 'synthetic',
      name: 'xor',
      n: 4,
      seed: 0,
      noise: 0,
      task: 'classification',
    });
    expect(fashionMnistSource()).toEqual({ type: 'fashion-mnist', dir: FASHION_MNIST_DIR, split: 'all' });
    expect(parseSource({ type: 'csv', path: 'a.csv', labelColumns: ['y'], task: 'regression' })).toMatchObject({
      delimiter: ',',
    });
  });

  it('names every problem by path', () => {
    const bad = () => parseSource({ type: 'csv', path: '', labelColumns: [], task: 'sorting', extra: 1 });
    expect(bad).toThrow(SourceError);
    expect(bad).toThrow(/path: must not be empty/);
    expect(bad).toThrow(/labelColumns: must name at least one column/);
    expect(bad).toThrow(/task: Invalid option/);
    expect(() => parseSource({ type: 'synthetic', name: 'moons', n: 10 })).toThrow(/name: Invalid discriminator/);
    expect(() => parseSource({ type: 'synthetic', name: 'blobs', n: 0 })).toThrow(/n: must be at least 1/);
    expect(() => parseSource({ type: 'parquet' })).toThrow(/type: Invalid discriminator/);
    expect(() => parseSource({ type: 'synthetic', name: 'blobs', n: 1e7, features: 1024 })).toThrow(
      /n: 10000000 rows x 1024 features are more than 67108864 values/,
    );
  });

  it('resolves relative paths against cwd', () => {
    const s = parseSource({ type: 'idx', images: 'i.idx', labels: '/abs/l.idx' });
    expect(absoluteSource(s, '/data')).toMatchObject({ images: '/data/i.idx', labels: '/abs/l.idx' });
  });

  it('has a JSON Schema', () => {
    expect(JSON.stringify(datasetSourceJsonSchema())).toContain('fashion-mnist');
  });
});

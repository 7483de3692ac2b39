import type { DatasetSource } from '@nnq/data';
import { describe, expect, it } from 'vitest';
import { embeddedDataRoots } from './embedded-roots';

const csv = (path: string): DatasetSource => ({
  type: 'csv',
  path,
  delimiter: ',',
  labelColumns: ['y'],
  task: 'classification',
});

describe('data roots of an embedded cluster', () => {
  it('adds exactly the files the config names to the defaults', () => {
    expect(embeddedDataRoots(csv('data/iris.csv'), {}, '/home/u')).toEqual({
      NNQ_DATA_ROOTS: '/home/u/.nnq:/usr/share/datasets/fashion-mnist:/home/u/data/iris.csv',
    });
    const idx = { type: 'idx', images: '/d/x.idx', labels: '/d/y.idx' } as const;
    expect(embeddedDataRoots(idx, { NNQ_DATA_DIR: '/var/nnq' }, '/w')).toEqual({
      NNQ_DATA_ROOTS: '/var/nnq:/usr/share/datasets/fashion-mnist:/d/x.idx:/d/y.idx',
    });
  });

  it("leaves the user's NNQ_DATA_ROOTS, synthetic sources and paths with ':' alone", () => {
    expect(embeddedDataRoots(csv('a.csv'), { NNQ_DATA_ROOTS: '/srv' }, '/w')).toEqual({});
    expect(
      embeddedDataRoots({ type: 'synthetic', name: 'xor', n: 4, seed: 0, noise: 0, task: 'regression' }, {}, '/w'),
    ).toEqual({});
    expect(embeddedDataRoots(csv('/a:b.csv'), {}, '/w')).toEqual({});
    expect(embeddedDataRoots(undefined, {}, '/w')).toEqual({});
  });
});

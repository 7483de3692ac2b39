import { describe, expect, it } from 'vitest';
import { KeySchema } from './keys';

describe('KeySchema', () => {
  it('keeps a run in one Redis Cluster hash slot', () => {
    const k = new KeySchema('nnq');
    const tag = (key: string) => key.slice(key.indexOf('{') + 1, key.indexOf('}'));
    expect(new Set([k.params('r1', 3), k.gradient('r1', 3, 0), k.runState('r1')].map(tag))).toEqual(
      new Set(['run:r1']),
    );
  });
  it('keeps the worker registry and BullMQ keys under hash tags in cluster mode only', () => {
    const single = new KeySchema('nnq');
    expect([single.workers(), single.worker('w1'), single.bullPrefix()]).toEqual([
      'nnq:workers',
      'nnq:worker:w1',
      'nnq:bull',
    ]);
    const cluster = new KeySchema('nnq', { cluster: true });
    expect([cluster.workers(), cluster.worker('w1'), cluster.bullPrefix()]).toEqual([
      'nnq:{workers}',
      'nnq:{workers}:w1',
      '{nnq:bull}',
    ]);
    expect(cluster.params('r1', 0)).toBe(single.params('r1', 0));
  });
  it("names a dataset's meta, chunks and the registry's id set under the prefix", () => {
    const k = new KeySchema('nnq', { cluster: true });
    expect([k.datasetMeta('ab12'), k.datasetChunk('ab12', 3), k.datasetIds()]).toEqual([
      'nnq:ds:ab12:meta',
      'nnq:ds:ab12:chunk:3',
      'nnq:ds:ids',
    ]);
  });
  it('refuses a prefix that would break the schema', () => {
    expect(() => new KeySchema('a:b')).toThrow(/key prefix must be 1-64 characters/);
  });
});

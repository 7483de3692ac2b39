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
  it('refuses a prefix that would break the schema', () => {
    expect(() => new KeySchema('a:b')).toThrow(/key prefix must be 1-64 characters/);
  });
});

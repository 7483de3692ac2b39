import { describe, expect, it } from 'vitest';
import { formatJobIssues, ShardJobSchema } from './jobs';

describe('ShardJobSchema', () => {
  const gradient = {
    kind: 'gradient',
    runId: 'r1',
    step: 0,
    shard: 0,
    shards: 2,
    version: 0,
    epoch: 0,
    start: 0,
    end: 8,
  };
  const problems = (data: unknown) => {
    const r = ShardJobSchema.safeParse(data);
    return r.success ? [] : formatJobIssues(r.error.issues);
  };

  it.each<[string, unknown, RegExp]>([
    ['an unknown kind', { ...gradient, kind: 'backward' }, /^kind: Invalid discriminator value\. Expected 'gradient' \| 'evaluate' \| 'reduce'$/], // prettier-ignore
    [
      'a missing field',
      { ...gradient, start: undefined },
      /^start: Invalid input: expected number, received undefined$/,
    ],
    ['a string', 'gradient', /^\(root\): Invalid input: expected object, received string$/],
    ['an empty range', { ...gradient, end: 0 }, /^end: end must be greater than start$/],
  ])('names the field of %s', (_name, data, message) => {
    expect(problems(data)).toContainEqual(expect.stringMatching(message));
  });

  it('accepts a well-formed gradient job', () => {
    expect(problems(gradient)).toEqual([]);
  });
});

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
    [
      'an unknown kind',
      { ...gradient, kind: 'backward' },
      /^kind: Invalid discriminator value\. Expected 'gradient' \| 'evaluate' \| 'reduce'$/,
    ],
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

  /** A well-formed reduce job: slice 1 of step 3. */
  const reduce = {
    kind: 'reduce',
    runId: 'r1',
    step: 3,
    slice: 1,
    start: 16,
    end: 32,
    version: 3,
    lr: 0.01,
    shards: 12,
    rows: 128,
  };

  it('accepts a reduce job of ids, a range and numbers, and refuses an empty range or a negative lr', () => {
    expect(problems(reduce)).toEqual([]);
    expect(problems({ ...reduce, end: 16 })).toEqual(['end: end must be greater than start']);
    expect(problems({ ...reduce, lr: -1 })).toEqual(['lr: must be at least 0']);
    expect(problems({ ...reduce, grad: [1, 2] })).toEqual([expect.stringMatching(/^\(root\): Unrecognized key/)]);
  });

  it('accepts the next step’s shards on a reduce job as ranges only, and refuses one beyond the shard count', () => {
    const next = [{ shard: 11, epoch: 0, start: 0, end: 8 }];
    expect(problems({ ...reduce, next })).toEqual([]);
    expect(problems({ ...reduce, next: [{ ...next[0], shard: 12 }] })).toEqual([
      'next: each next shard needs end > start and shard below shards',
    ]);
    expect(problems({ ...reduce, next: [{ ...next[0], grad: [1] }] })).toEqual([
      expect.stringMatching(/^next\.0: Unrecognized key/),
    ]);
  });
});

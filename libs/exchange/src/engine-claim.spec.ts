import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { claimEngine, engineMismatch } from './engine-claim';

describe('claimEngine on a real Redis', () => {
  const redis = new Redis(inject('redisUrl'));
  const key = `engine-claim-${randomUUID()}:{run:r}:engine`;
  afterAll(async () => {
    await redis.del(key);
    await redis.quit();
  });

  it('gives the run the engine of its first claim, whoever claims next, concurrently or later', async () => {
    const other = redis.duplicate();
    const first = await Promise.all([
      claimEngine(redis, key, 'onnxruntime 1.30.0'),
      claimEngine(other, key, 'reference nnq 0.1.0'),
    ]);
    await other.quit();
    // one of the two won, and both were told the same winner
    expect(first[0]).toBe(first[1]);
    expect(['onnxruntime 1.30.0', 'reference nnq 0.1.0']).toContain(first[0]);
    expect(await claimEngine(redis, key, 'reference nnq 0.2.0')).toBe(first[0]);
    expect(await redis.get(key)).toBe(first[0]);
  });

  it('says which engine computed the shard, which one the run has, and what must take it', () => {
    expect(engineMismatch('r-3-1', 'r', 'reference nnq 0.1.0', 'onnxruntime 1.30.0')).toBe(
      'job r-3-1: computed by reference nnq 0.1.0, but run r computes with onnxruntime 1.30.0 (the engine of its ' +
        'first shards; their gradients differ in the last bits): a worker with onnxruntime 1.30.0 must compute it',
    );
  });
});

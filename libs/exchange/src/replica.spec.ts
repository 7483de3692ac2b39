import { createOptimizerState, paramLayout } from '@nnq/nn';
import { encodeShardResult, KeySchema } from '@nnq/protocol';
import { initialParams, ShardSum, updateStep } from '@nnq/training';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { smallRegressionRun } from '../../../test/support/small-regression';
import { encodeSnapshot, ReplicaNotYetError, Replicas } from './replica';

const config = smallRegressionRun('replica', { steps: 4, reduce: { strategy: 'replicated' } });
const P = paramLayout(config.model).size;

/** A shard result with gradient values from a fixed LCG (the same every run). */
function shard(seed: number): Buffer {
  let x = seed;
  const grad = Float32Array.from({ length: P }, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return (x / 2 ** 32 - 0.5) * 3;
  });
  return encodeShardResult({ grad, loss: 1.5, correct: 0, rows: 20, engine: 'test' });
}

describe('Replicas on a real Redis', () => {
  const redis = new Redis(inject('redisUrl'));
  const keys = new KeySchema(`replica-${randomUUID().slice(0, 8)}`);
  afterAll(async () => {
    const left = await redis.keys(`${keys.prefix}:*`);
    if (left.length) await redis.del(...left);
    await redis.quit();
  });

  it('applies a gradient this process wrote from hand, reads only the others, and gives the buffer back', async () => {
    const params = initialParams(config);
    const state = createOptimizerState(config.optimizer, P);
    const [g0, g1] = [shard(1), shard(2)];
    await redis.set(keys.runConfig('k1'), JSON.stringify(config));
    await redis.set(keys.replicaSnapshot('k1', 0), encodeSnapshot(config, params, state));
    await redis.set(keys.replicaSnapshotVersion('k1'), 0);
    // shard 0 in Redis holds other bytes: only the kept copy gives the reference update
    await redis.set(keys.gradient('k1', 0, 0), shard(3));
    await redis.set(keys.gradient('k1', 0, 1), g1);
    const replicas = new Replicas(redis, keys);
    const released: Buffer[] = [];
    expect(replicas.keep('k1', 0, 0, g0, (b) => released.push(b))).toBe(false); // not loaded yet
    expect(await replicas.replicated('k1')).toBe(true);
    expect(replicas.keep('k1', 0, 0, g0, (b) => released.push(b))).toBe(true);
    expect(replicas.keep('other', 0, 0, g0, () => undefined)).toBe(false);
    let got: Float32Array | undefined;
    // a fresh replica: the snapshot (parameters and Adam's two slots after an 8-byte header), then shard 1
    const read = await replicas.paramsAt('k1', 1, (p) => (got = p.slice()));
    expect(read).toBe(4 * P + 8 + 2 * 4 * P + g1.byteLength);
    expect(released).toEqual([g0]);
    const sum = new ShardSum(2, new Float32Array(P));
    for (const g of [g0, g1])
      sum.add({ grad: new Float32Array(g.buffer, g.byteOffset, P), loss: 1.5, correct: 0, rows: 20 });
    updateStep(config, params, sum.result(), state, { t: 0, epoch: 0 }, null, null);
    expect(Buffer.from(got!.buffer).equals(Buffer.from(params.buffer))).toBe(true);
  });

  it('asked early, waits for a gradient still to come, reading each written one once', async () => {
    const params = initialParams(config);
    const state = createOptimizerState(config.optimizer, P);
    const [g0, g1] = [shard(4), shard(5)];
    await redis.set(keys.runConfig('k2'), JSON.stringify(config));
    await redis.set(keys.replicaSnapshot('k2', 0), encodeSnapshot(config, params, state));
    await redis.set(keys.replicaSnapshotVersion('k2'), 0);
    await redis.set(keys.gradient('k2', 0, 0), g0);
    const replicas = new Replicas(redis, keys);
    const use = () => expect.unreachable('no parameters before shard 1 is written');
    await expect(replicas.paramsAt('k2', 1, use, true)).rejects.toBeInstanceOf(ReplicaNotYetError);
    await redis.set(keys.gradient('k2', 0, 1), g1);
    // shard 0 replaced in Redis: the bytes read the first time are the ones applied
    await redis.set(keys.gradient('k2', 0, 0), shard(6));
    let got: Float32Array | undefined;
    const read = await replicas.paramsAt('k2', 1, (p) => (got = p.slice()), true);
    expect(read).toBe(g1.byteLength);
    const sum = new ShardSum(2, new Float32Array(P));
    for (const g of [g0, g1])
      sum.add({ grad: new Float32Array(g.buffer, g.byteOffset, P), loss: 1.5, correct: 0, rows: 20 });
    updateStep(config, params, sum.result(), state, { t: 0, epoch: 0 }, null, null);
    expect(Buffer.from(got!.buffer).equals(Buffer.from(params.buffer))).toBe(true);
  });
});

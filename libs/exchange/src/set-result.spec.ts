import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { setResult } from './set-result';

describe('setResult on a real Redis', () => {
  const redis = new Redis(inject('redisUrl'));
  const p = `set-result-${randomUUID()}`;
  const manifest = `${p}:{run:r}:manifest`;
  const channel = `${p}:results`;
  afterAll(() => redis.quit());

  it('writes once while the run is live, keeps the first value, and announces each write', async () => {
    const sub = redis.duplicate();
    const notices: string[] = [];
    sub.on('message', (_c: string, m: string) => notices.push(m));
    await sub.subscribe(channel);
    await redis.set(manifest, '{}');
    const key = `${p}:{run:r}:grad:0:0`;
    const value = Buffer.alloc(1 << 20, 7); // a gradient-sized value
    expect(await setResult(redis, key, manifest, value, 60_000, channel)).toBe(1);
    expect(await setResult(redis, key, manifest, Buffer.from('other'), 60_000, channel)).toBe(0);
    expect((await redis.getBuffer(key))!.equals(value)).toBe(true);
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(notices).toContain(key);
    await sub.quit();
  });

  it('leaves nothing behind once the run is gone, and does not touch a result another job wrote', async () => {
    await redis.del(manifest);
    const key = `${p}:{run:r}:grad:0:1`;
    expect(await setResult(redis, key, manifest, Buffer.from('late'), 60_000, channel)).toBe(-1);
    expect(await redis.exists(key)).toBe(0);
    const kept = `${p}:{run:r}:grad:0:2`;
    await redis.set(kept, 'first');
    expect(await setResult(redis, kept, manifest, Buffer.from('late'), 60_000, channel)).toBe(-1);
    expect(await redis.get(kept)).toBe('first');
  });

  it('publishes a second notice in the same round trip when asked', async () => {
    const sub = redis.duplicate();
    const notices: string[] = [];
    sub.on('message', (c: string, m: string) => notices.push(`${c} ${m}`));
    await sub.subscribe(channel, `${p}:params`);
    await redis.set(manifest, '{}');
    const key = `${p}:{run:r}:grad:1:0`;
    const also = { channel: `${p}:params`, message: 'r:2' };
    expect(await setResult(redis, key, manifest, Buffer.from('g'), 60_000, channel, also)).toBe(1);
    await new Promise((r) => setTimeout(r, 50));
    expect(notices).toEqual([`${channel} ${key}`, `${p}:params r:2`]);
    await sub.quit();
  });
});

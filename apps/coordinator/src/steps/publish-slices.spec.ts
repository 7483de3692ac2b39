import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { publishSlices } from './publish-slices';

describe('publishSlices on a real Redis', () => {
  const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 });
  const run = `{ps-${randomUUID().slice(0, 8)}}`;
  const keys = (v: number) => ({
    staging: `${run}:staging:${v}`,
    params: `${run}:params:${v}`,
    version: `${run}:version`,
    parked: `${run}:parked:${v}`,
    markers: [`${run}:marker:0`, `${run}:marker:1`],
  });
  afterAll(async () => {
    const left = await redis.keys(`${run}:*`);
    if (left.length) await redis.del(...left);
    await redis.quit();
  });

  it('renames the staged parameters, sets the version, notices, and takes the parked ids at once', async () => {
    const k = keys(4);
    const sub = new Redis(inject('redisUrl'));
    const notices: string[] = [];
    await sub.subscribe(`${run}:channel`);
    sub.on('message', (_c, m) => notices.push(m));
    await redis
      .multi()
      .set(k.staging, 'p4')
      .set(k.markers[0], '2.5 1')
      .set(k.markers[1], '0.5 3 4')
      .sadd(k.parked, 'j-4-0', 'j-4-1')
      .exec();
    const out = await publishSlices(redis, k, 4, `${run}:channel`, 'run:4');
    expect(out.published).toBe(true);
    expect(out.parked.sort()).toEqual(['j-4-0', 'j-4-1']);
    expect(out.markers).toEqual(['2.5 1', '0.5 3 4']);
    expect(await redis.mget(k.params, k.staging, k.version)).toEqual(['p4', null, '4']);
    expect(await redis.exists(k.parked)).toBe(0);
    await expect.poll(() => notices).toEqual(['run:4']);
    await sub.quit();
  });

  it('publishes nothing and takes no parked id when a marker is not finite', async () => {
    const k = keys(5);
    await redis
      .multi()
      .set(k.staging, 'p5')
      .set(k.markers[0], '1 1')
      .set(k.markers[1], 'nan 2')
      .sadd(k.parked, 'j-5-0')
      .exec();
    const out = await publishSlices(redis, k, 5, `${run}:channel`, 'run:5');
    expect(out).toEqual({ published: false, parked: [], markers: ['1 1', 'nan 2'] });
    expect(await redis.mget(k.staging, k.params, k.version)).toEqual(['p5', null, '4']);
    expect(await redis.smembers(k.parked)).toEqual(['j-5-0']);
  });

  it('refuses a step whose marker is missing, changing nothing', async () => {
    const k = keys(6);
    await redis.multi().set(k.staging, 'p6').del(k.markers[1]).set(k.markers[0], '1 1').sadd(k.parked, 'j-6-0').exec();
    await expect(publishSlices(redis, k, 6, `${run}:channel`, 'run:6')).rejects.toThrow(/slice marker .* is missing/);
    expect(await redis.smembers(k.parked)).toEqual(['j-6-0']);
    expect(await redis.get(k.version)).toBe('4');
  });
});

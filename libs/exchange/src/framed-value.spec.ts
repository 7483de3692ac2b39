import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { FramedValue, setOnce } from './framed-value';

describe('FramedValue: a SET framed around its value in place, on a real Redis', () => {
  const redis = new Redis(inject('redisUrl'));
  const p = `framed-${randomUUID()}`;
  afterAll(() => redis.quit());

  it('writes the value once with its TTL, for keys of any length, the buffer reused', async () => {
    const framed = new FramedValue(1 << 20);
    for (const [i, key] of [`${p}:a`, `${p}:${'k'.repeat(300)}`, `${p}:bb`].entries()) {
      framed.value.fill(i + 1);
      framed.value.writeUInt32LE(0x0d0a0d0a, 100); // CR LF inside the value: framed by length
      expect(await setOnce(redis, key, framed, 60_000)).toBe('OK');
      const back = await redis.getBuffer(key);
      expect(back!.equals(framed.value)).toBe(true);
      expect(await redis.pttl(key)).toBeGreaterThan(50_000);
      // NX: a second write keeps the first value
      framed.value.fill(9);
      expect(await setOnce(redis, key, framed, 60_000)).toBeNull();
      expect((await redis.getBuffer(key))![0]).toBe(i + 1);
    }
  });

  it('falls back to a plain SET for a key longer than the room before the value', async () => {
    const framed = new FramedValue(16);
    const key = `${p}:${'x'.repeat(600)}`;
    expect(framed.frame(key, 1000)).toBeUndefined();
    framed.value.fill(3);
    expect(await setOnce(redis, key, framed, 60_000)).toBe('OK');
    expect((await redis.getBuffer(key))!.equals(Buffer.alloc(16, 3))).toBe(true);
  });

  it('frames exactly the RESP command ioredis would send', () => {
    const framed = new FramedValue(3);
    framed.value.write('abc');
    expect(framed.frame('k', 1500)!.toString()).toBe(
      '*6\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nabc\r\n$2\r\nPX\r\n$4\r\n1500\r\n$2\r\nNX\r\n',
    );
  });
});

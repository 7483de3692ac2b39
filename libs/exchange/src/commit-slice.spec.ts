import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { commitSlice, type SliceCommit } from './commit-slice';

describe('commitSlice on a real Redis', () => {
  const redis = new Redis(inject('redisUrl'));
  const conns = [redis.duplicate(), redis.duplicate()];
  const p = `commit-slice-${randomUUID()}:{run:r}`;
  afterAll(() => Promise.all([redis, ...conns].map((c) => c.quit())));

  const slice = (i: number, bytes: number[], step = 0): SliceCommit => ({
    staging: `${p}:staging:${step + 1}`,
    stateNext: `${p}:state:${i}:${step + 1}`,
    stateNow: `${p}:state:${i}:${step}`,
    marker: `${p}:reduced:${step}:${i}`,
    markerValue: `m${i}`,
    markerTtlMs: 60_000,
    channel: `${p}:results`,
    offset: i * 4,
    params: Buffer.from(bytes),
    state: Buffer.from(`s${i}`),
  });

  it('writes each slice once, in any order and side by side, into one staged blob', async () => {
    await redis.mset(`${p}:state:0:0`, 'a', `${p}:state:1:0`, 'b', `${p}:state:2:0`, 'c');
    const sub = redis.duplicate();
    const notices: string[] = [];
    sub.on('message', (_c: string, m: string) => notices.push(m));
    await sub.subscribe(`${p}:results`);
    // the last slice first (the blob grows zero-padded), the other two at once on two connections
    expect(await commitSlice(conns[0], slice(2, [9, 10, 11, 12]))).toBe(1);
    const both = await Promise.all([
      commitSlice(conns[0], slice(0, [1, 2, 3, 4])),
      commitSlice(conns[1], slice(1, [5, 6, 7, 8])),
    ]);
    expect(both).toEqual([1, 1]);
    expect([...(await redis.getBuffer(`${p}:staging:1`))!]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(await redis.mget(`${p}:state:0:1`, `${p}:state:1:1`, `${p}:state:2:1`)).toEqual(['s0', 's1', 's2']);
    expect(await redis.pttl(`${p}:reduced:0:1`)).toBeGreaterThan(50_000);
    // a duplicate changes nothing
    expect(await commitSlice(conns[1], slice(1, [0, 0, 0, 0]))).toBe(0);
    expect([...(await redis.getBuffer(`${p}:staging:1`))!].slice(4, 8)).toEqual([5, 6, 7, 8]);
    await new Promise((r) => setTimeout(r, 50));
    expect(notices.sort()).toEqual([`${p}:reduced:0:0`, `${p}:reduced:0:1`, `${p}:reduced:0:2`]);
    await sub.quit();
  });

  it('writes nothing once the step is over (its state deleted)', async () => {
    expect(await commitSlice(conns[0], slice(0, [1, 2, 3, 4], 5))).toBe(-1);
    expect(await redis.exists(`${p}:staging:6`, `${p}:state:0:6`, `${p}:reduced:5:0`)).toBe(0);
  });

  it('checks again when a watched key changes between the check and EXEC', async () => {
    await redis.set(`${p}:state:0:7`, 'x');
    // a connection whose EXISTS replies are delayed: the step is cleaned up meanwhile
    const conn = conns[0];
    const exists = conn.exists.bind(conn);
    let delayed = false;
    conn.exists = (async (...args: Parameters<typeof exists>) => {
      const r = await exists(...args);
      if (!delayed) {
        delayed = true;
        await redis.del(`${p}:state:0:7`);
      }
      return r;
    }) as typeof conn.exists;
    try {
      expect(await commitSlice(conn, slice(0, [1, 2, 3, 4], 7))).toBe(-1);
    } finally {
      conn.exists = exists;
    }
    expect(await redis.exists(`${p}:staging:8`, `${p}:reduced:7:0`)).toBe(0);
  });
});

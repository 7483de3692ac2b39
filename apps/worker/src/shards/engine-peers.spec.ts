import { KeySchema } from '@nnq/protocol';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { engineTag } from './engine-tag';
import { liveWorkerComputes } from './engine-peers';

const keys = new KeySchema('peers');
const beat = (id: string, engine: string) =>
  JSON.stringify({ id, host: 'h', pid: 1, concurrency: 1, version: 'v', port: 0, engine, startedAt: '', lastSeen: '' });

/** A Redis with the workers set and the heartbeat keys given (a missing key: an expired heartbeat). */
function redisWith(beats: Record<string, string | null>): Redis {
  return {
    smembers: async () => Object.keys(beats),
    mget: async (ks: string[]) => ks.map((k) => Object.entries(beats).find(([id]) => keys.worker(id) === k)![1]),
  } as unknown as Redis;
}

describe('liveWorkerComputes', () => {
  it("finds a live worker of the run's engine; none among expired, other-engine, garbled beats", async () => {
    const onnx = engineTag('onnx');
    const reference = engineTag('reference');
    expect(await liveWorkerComputes(redisWith({ a: beat('a', 'reference'), b: beat('b', 'onnx') }), keys, onnx)).toBe(
      true,
    );
    expect(await liveWorkerComputes(redisWith({ a: beat('a', 'reference'), b: null }), keys, onnx)).toBe(false);
    expect(await liveWorkerComputes(redisWith({ a: beat('a', 'reference') }), keys, reference)).toBe(true);
    expect(await liveWorkerComputes(redisWith({ a: '{not json', b: '{"engine":"onnx"}' }), keys, onnx)).toBe(false);
    expect(await liveWorkerComputes(redisWith({}), keys, onnx)).toBe(false);
  });
});

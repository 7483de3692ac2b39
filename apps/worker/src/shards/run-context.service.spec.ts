import { KeySchema } from '@nnq/protocol';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import {
  MissingStateError,
  ParamsNotReadyError,
  RunContextService,
  StepPastError,
  type RunContext,
} from './run-context.service';

/** An in-memory stand-in for the few Redis calls RunContextService.params makes. */
function fakeRedis(store: Map<string, Buffer | string>) {
  const handlers: ((channel: string, message: string) => void)[] = [];
  const redis = {
    getBuffer: async (k: string) => {
      const v = store.get(k);
      return v === undefined ? null : Buffer.from(v);
    },
    get: async (k: string) => (store.has(k) ? String(store.get(k)) : null),
    exists: async (...ks: string[]) => ks.filter((k) => store.has(k)).length,
    duplicate: () => ({
      on: (event: string, fn: (channel: string, message: string) => void) => event === 'message' && handlers.push(fn),
      subscribe: async () => 1,
      quit: async () => 'OK',
    }),
  };
  const publish = (message: string) => handlers.forEach((h) => h('ch', message));
  return { redis: redis as unknown as Redis, publish };
}

const keys = new KeySchema('t');
const P = 3;
const ctx = (): RunContext =>
  ({ manifest: { runId: 'r1', paramCount: P }, params: new Map() }) as unknown as RunContext;
const paramsBlob = (v: number) => Buffer.from(new Float32Array(P).fill(v).buffer);

function setup(version: number | null) {
  const store = new Map<string, Buffer | string>([[keys.runManifest('r1'), '{}']]);
  if (version !== null) {
    store.set(keys.paramsVersion('r1'), String(version));
    store.set(keys.params('r1', version), paramsBlob(version));
  }
  const { redis, publish } = fakeRedis(store);
  return { store, publish, service: new RunContextService(redis, keys) };
}

describe('RunContextService.params: why parameters are missing', () => {
  it('returns the published version', async () => {
    const { service } = setup(4);
    expect([...(await service.params(ctx(), 4))]).toEqual([4, 4, 4]);
  });

  it('waits for the next version when the job is one step ahead (notice or poll)', async () => {
    const { service, store, publish } = setup(4);
    const got = service.params(ctx(), 5, 5_000);
    setTimeout(() => {
      store.set(keys.params('r1', 5), paramsBlob(5));
      store.set(keys.paramsVersion('r1'), '5');
      publish('r1:5');
    }, 30);
    expect([...(await got)]).toEqual([5, 5, 5]);
  });

  it('gives a job one step ahead back after its wait, with a short delay', async () => {
    const { service } = setup(4);
    const err = await service.params(ctx(), 5, 60).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParamsNotReadyError);
    expect((err as ParamsNotReadyError).delayMs).toBe(50);
  });

  it('sends a job further ahead (a resumed coordinator is behind) back for a second, without waiting', async () => {
    const { service } = setup(4);
    const started = Date.now();
    const err = await service.params(ctx(), 9, 5_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParamsNotReadyError);
    expect((err as ParamsNotReadyError).delayMs).toBe(1_000);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('calls a job of a finished step past', async () => {
    const { service } = setup(7);
    await expect(service.params(ctx(), 5, 5_000)).rejects.toBeInstanceOf(StepPastError);
  });

  it('fails a job of a run without manifest or without a published version', async () => {
    const noVersion = setup(null);
    await expect(noVersion.service.params(ctx(), 3)).rejects.toThrow(
      new MissingStateError('run r1 has no parameters of version 3'),
    );
    const gone = setup(4);
    gone.store.delete(keys.runManifest('r1'));
    await expect(gone.service.params(ctx(), 5, 5_000)).rejects.toThrow(/run r1 is over/);
  });
});

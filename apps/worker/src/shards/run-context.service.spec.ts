import { KeySchema } from '@nnq/protocol';
import type { Redis } from 'ioredis';
import { ReplicaNotYetError } from '@nnq/exchange';
import type { OptimizerState } from '@nnq/nn';
import { describe, expect, it, vi } from 'vitest';
import {
  MissingStateError,
  ParamsNotReadyError,
  paramsValues,
  RunContextService,
  StepPastError,
  type RunContext,
} from './run-context.service';

/** An in-memory stand-in for the few Redis calls RunContextService.params makes. */
function fakeRedis(store: Map<string, Buffer | string>) {
  const handlers: ((channel: string, message: string) => void)[] = [];
  const pipelines = { count: 0 };
  const redis = {
    getBuffer: async (k: string) => {
      const v = store.get(k);
      return v === undefined ? null : Buffer.from(v);
    },
    get: async (k: string) => (store.has(k) ? String(store.get(k)) : null),
    exists: async (...ks: string[]) => ks.filter((k) => store.has(k)).length,
    pipeline: () => {
      pipelines.count++;
      const replies: Promise<[null, unknown]>[] = [];
      const p = {
        get: (k: string) => (replies.push(redis.get(k).then((v) => [null, v])), p),
        exists: (k: string) => (replies.push(redis.exists(k).then((v) => [null, v])), p),
        exec: () => Promise.all(replies),
      };
      return p;
    },
    duplicate: () => ({
      on: (event: string, fn: (channel: string, message: string) => void) => event === 'message' && handlers.push(fn),
      subscribe: async () => 1,
      quit: async () => 'OK',
    }),
  };
  const publish = (message: string) => handlers.forEach((h) => h('ch', message));
  return { redis: redis as unknown as Redis, publish, pipelines };
}

const keys = new KeySchema('t');
const P = 3;
const ctx = (): RunContext =>
  ({ manifest: { runId: 'r1', paramCount: P }, params: new Map(), slots: [] }) as unknown as RunContext;
const paramsBlob = (v: number) => Buffer.from(new Float32Array(P).fill(v).buffer);

function setup(version: number | null) {
  const store = new Map<string, Buffer | string>([[keys.runManifest('r1'), '{}']]);
  if (version !== null) {
    store.set(keys.paramsVersion('r1'), String(version));
    store.set(keys.params('r1', version), paramsBlob(version));
  }
  const { redis, publish, pipelines } = fakeRedis(store);
  return { store, publish, pipelines, service: new RunContextService(redis, keys) };
}

describe('RunContextService.params: why parameters are missing', () => {
  it('returns the published version', async () => {
    const { service } = setup(4);
    expect([...paramsValues(await service.params(ctx(), 4), 4, 'r1')]).toEqual([4, 4, 4]);
  });

  it('waits for the next version when the job is one step ahead (notice or poll)', async () => {
    const { service, store, publish } = setup(4);
    const got = service.params(ctx(), 5, 5_000);
    setTimeout(() => {
      store.set(keys.params('r1', 5), paramsBlob(5));
      store.set(keys.paramsVersion('r1'), '5');
      publish('r1:5');
    }, 30);
    expect([...paramsValues(await got, 5, 'r1')]).toEqual([5, 5, 5]);
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

describe('RunContextService.params: buffers reused across versions', () => {
  it('keeps two versions, reuses the buffer of one that left the cache, refuses it to its version', async () => {
    const { service, store } = setup(1);
    const c = ctx();
    const first = await service.params(c, 1);
    const values = first.values;
    for (const v of [2, 3, 4]) {
      store.set(keys.params('r1', v), paramsBlob(v));
      store.set(keys.paramsVersion('r1'), String(v));
      expect([...paramsValues(await service.params(c, v), v, 'r1')]).toEqual([v, v, v]);
    }
    // version 1 left the cache when 3 was asked for, and 3 was read into its buffer; 4 into 2's
    expect(c.slots).toHaveLength(2);
    expect([...c.params.keys()].sort()).toEqual([3, 4]);
    expect(first.version).toBe(3);
    expect(first.values).toBe(values);
    expect([...values]).toEqual([3, 3, 3]);
    const err = (() => {
      try {
        return paramsValues(first, 1, 'r1');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ParamsNotReadyError);
    expect((err as Error).message).toBe('parameters 1 of run r1 were replaced while the job waited');
    // a cached version is read from its buffer, not fetched again
    store.delete(keys.params('r1', 3));
    expect(await service.params(c, 3)).toBe(first);
  });

  it('forgets versions cached before a coordinator resumed from an earlier checkpoint', async () => {
    const { service, store } = setup(99);
    const c = ctx();
    await service.params(c, 99);
    store.set(keys.params('r1', 100), paramsBlob(100));
    await service.params(c, 100);
    // the run starts again from step 50
    store.set(keys.paramsVersion('r1'), '51');
    for (const v of [99, 100]) store.delete(keys.params('r1', v));
    for (const v of [51, 52]) store.set(keys.params('r1', v), paramsBlob(v));
    expect([...paramsValues(await service.params(c, 51), 51, 'r1')]).toEqual([51, 51, 51]);
    expect([...c.params.keys()].filter((k) => k > 52)).toEqual([]);
    expect([...paramsValues(await service.params(c, 52), 52, 'r1')]).toEqual([52, 52, 52]);
    expect([...paramsValues(await service.params(c, 51), 51, 'r1')]).toEqual([51, 51, 51]);
    expect([...c.params.keys()].sort()).toEqual([51, 52]);
  });

  it('refuses parameters of the wrong size, naming the version and run', async () => {
    const { service, store } = setup(4);
    store.set(keys.params('r1', 4), Buffer.alloc(10));
    await expect(service.params(ctx(), 4)).rejects.toThrow('parameters 4 of run r1 have 10 bytes, expected 12');
  });
});

describe('RunContextService.params: the first look of a replicated run comes with its job (RunLook)', () => {
  const replicated = () => ({ ...ctx(), replicated: true }) as RunContext;
  const look = (published: string | null, live = true) => ({ since: 0, published, live });
  /** The replica misses a gradient of step 4 `notYet` times, then gives parameters 5 (all 5s). */
  const replicaAnswers = (service: RunContextService, notYet: number) => {
    const paramsAt = vi.spyOn(service.replicas, 'paramsAt');
    for (let i = 0; i < notYet; i++)
      paramsAt.mockRejectedValueOnce(new ReplicaNotYetError('step 4 has gradients still to come'));
    return paramsAt.mockImplementationOnce(
      async (_run, v, use) => (use(new Float32Array(P).fill(v), {} as OptimizerState), 0),
    );
  };

  it('decides from the look without reading the version again', async () => {
    const { service, pipelines } = setup(4);
    // the look says the step is over, Redis (version 4) says otherwise: the look is what counts
    await expect(service.params(replicated(), 5, 5_000, look('7'))).rejects.toBeInstanceOf(StepPastError);
    await expect(service.params(replicated(), 5, 5_000, look('4', false))).rejects.toThrow(/run r1 is over/);
    expect(pipelines.count).toBe(0);
  });

  it('reads the version itself after waiting for a gradient still to come', async () => {
    const { service, store, publish, pipelines } = setup(4);
    const paramsAt = replicaAnswers(service, 1);
    const got = service.params(replicated(), 5, 5_000, look('4'));
    setTimeout(() => {
      store.set(keys.paramsVersion('r1'), '5');
      publish('r1:5');
    }, 30);
    expect([...paramsValues(await got, 5, 'r1')]).toEqual([5, 5, 5]);
    // early from the look (version 4), then not early from the read (version 5)
    expect(paramsAt.mock.calls.map((c) => [c[1], c[3] ?? false])).toEqual([
      [5, true],
      [5, false],
    ]);
    expect(pipelines.count).toBe(1);
  });

  it('a replica one step behind, woken, makes the parameters without reading the version', async () => {
    const { service, publish, pipelines } = setup(4);
    vi.spyOn(service.replicas, 'versionOf').mockReturnValue(4);
    const paramsAt = replicaAnswers(service, 1);
    const got = service.params(replicated(), 5, 5_000, look('4'));
    // the last gradient of step 4 is written (this worker's own, or another's notice): version 4 still
    setTimeout(() => publish('r1:5'), 30);
    expect([...paramsValues(await got, 5, 'r1')]).toEqual([5, 5, 5]);
    expect(paramsAt.mock.calls.map((c) => [c[1], c[3] ?? false])).toEqual([
      [5, true],
      [5, true],
    ]);
    expect(pipelines.count).toBe(0);
  });

  it('a replica one step behind that still misses a gradient reads the version, and asks once a wake', async () => {
    const { service, store, publish, pipelines } = setup(4);
    vi.spyOn(service.replicas, 'versionOf').mockReturnValue(4);
    const paramsAt = replicaAnswers(service, 2);
    const got = service.params(replicated(), 5, 5_000, look('4'));
    setTimeout(() => publish('r1:5'), 30); // one gradient of two
    setTimeout(() => (store.set(keys.paramsVersion('r1'), '5'), publish('r1:5')), 90);
    expect([...paramsValues(await got, 5, 'r1')]).toEqual([5, 5, 5]);
    expect(paramsAt.mock.calls.map((c) => c[3] ?? false)).toEqual([true, true, true]);
    expect(pipelines.count).toBe(1);
  });
});

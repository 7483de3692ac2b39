import { parseRunConfig, trainLocal } from '@nnq/training';
import { Redis } from 'ioredis';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort, startRedisServer } from '../libs/cluster/src/throwaway-redis';
import { execFileSync } from 'node:child_process';
import { getJson, startApp, stopApp, uniquePrefix, until, type AppProcess } from './support/processes';
import { exampleConfig, modelParams, submitRun, waitForRun } from './support/runs';

// The system's signature: the final weights are a function of the config and seed alone.
describe('synchronous training on a cluster of worker processes', () => {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('train');
  const dataDir = mkdtempSync(join(tmpdir(), 'nnq-train-'));
  const env = { REDIS_URL: redisUrl, NNQ_PREFIX: prefix, NNQ_DATA_DIR: dataDir, NNQ_HEARTBEAT_TTL_MS: '2000' };
  const workers: AppProcess[] = [];
  let coordinator: AppProcess;
  let base = '';
  // two spirals, 4 shards per step, 5 epochs: small enough to run four times
  const equivalence = { ...exampleConfig('spirals.json'), name: 'equivalence', epochs: 5 };
  const trained: Record<string, Buffer> = {};

  const addWorker = async () => {
    const w = startApp('worker', env);
    workers.push(w);
    await w.waitFor(/serving \/health and \/metrics/);
    await until(
      async () => (await getJson<unknown[]>(`${base}/workers`)).length === workers.length,
      10_000,
      'the worker to announce itself',
    );
  };

  beforeAll(async () => {
    coordinator = startApp('coordinator', { ...env, NNQ_PORT: '0' });
    const [, port] = await coordinator.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
    base = `http://127.0.0.1:${port}`;
    const local = await trainLocal(parseRunConfig(equivalence));
    trained.local = Buffer.from(local.params.buffer);
  });

  afterAll(async () => {
    await Promise.all([...workers, coordinator].filter(Boolean).map((p) => stopApp(p)));
    const redis = new Redis(redisUrl);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it.each([1, 2, 3])('gives the in-process weights bit for bit with %i worker(s)', async (n) => {
    while (workers.length < n) await addWorker();
    const run = await submitRun(base, equivalence);
    const done = await waitForRun(base, run.id);
    expect(done.state).toBe('completed');
    trained[`cluster${n}`] = await modelParams(base, run.id);
    expect(trained[`cluster${n}`].equals(trained.local)).toBe(true);
  });

  it('trains XOR and two spirals to their targets on two workers', async () => {
    while (workers.length > 2) await stopApp(workers.pop()!);
    const [xor, spirals] = await Promise.all([
      submitRun(base, exampleConfig('xor.json')),
      submitRun(base, exampleConfig('spirals.json')),
    ]);
    // 102-140 s on a loaded 2-core machine (both runs share the two workers): limits with room
    const [x, s] = await Promise.all([waitForRun(base, xor.id, 330_000), waitForRun(base, spirals.id, 330_000)]);
    expect(x.state).toBe('completed');
    expect(x.loss!).toBeLessThan(1e-3);
    expect(s.state).toBe('completed');
    expect(s.validation!.accuracy).toBeGreaterThanOrEqual(0.95);
    expect(s.test!.accuracy).toBeGreaterThanOrEqual(0.95);
    const history = await getJson<{ type: string }[]>(`${base}/runs/${spirals.id}/history`);
    expect(history.filter((h) => h.type === 'step')).toHaveLength((s as { totalSteps: number }).totalSteps);
    const pred = await fetch(`${base}/runs/${xor.id}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        inputs: [
          [0, 0],
          [0, 1],
          [1, 0],
          [1, 1],
        ],
      }),
    });
    const { outputs } = (await pred.json()) as { outputs: number[][] };
    expect(outputs.map((o) => (o[0] > 0.5 ? 1 : 0))).toEqual([0, 1, 1, 0]);
  }, 360_000);

  it('answers a bad config with 400 listing every problem by path, and an unknown run with 404', async () => {
    const bad = {
      ...exampleConfig('xor.json'),
      batchSize: 0,
      optimizer: { type: 'adam', lr: -1 },
      model: { inputSize: 3, layers: [], loss: 'l1' },
    };
    const res = await fetch(`${base}/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(bad),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { problems: string[] };
    expect(body.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^batchSize: must be at least 1/),
        expect.stringMatching(/^optimizer\.lr: must be greater than 0/),
        expect.stringMatching(/^model\.layers: must hold at least one dense layer/),
        expect.stringMatching(/^model\.loss: /),
      ]),
    );
    const mismatch = {
      ...exampleConfig('xor.json'),
      model: { inputSize: 3, layers: [{ units: 1, activation: 'identity' }], loss: 'mse' },
    };
    const res2 = await fetch(`${base}/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(mismatch),
    });
    expect(res2.status).toBe(400);
    expect(JSON.stringify(await res2.json())).toMatch(/model\.inputSize: is 3, the dataset has 2 features per row/);
    for (const path of ['/runs/0123456789ab', '/runs/0123456789ab/history', '/runs/0123456789ab/model']) {
      expect((await fetch(`${base}${path}`)).status).toBe(404);
    }
    expect((await fetch(`${base}/runs/not:an:id`)).status).toBe(404);
  });

  it('cancels a running run', async () => {
    const run = await submitRun(base, { ...exampleConfig('spirals.json'), name: 'to-cancel', epochs: 500 });
    await until(
      async () => (await getJson<{ step: number }>(`${base}/runs/${run.id}`)).step > 2,
      30_000,
      'a few steps',
    );
    const res = await fetch(`${base}/runs/${run.id}/cancel`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { state: string }).state).toBe('cancelled');
    // a shard in flight at the cancel may write its result just after; seeing the run gone, its
    // worker deletes it again (one round trip later)
    const redis = new Redis(redisUrl);
    const left = async () => (await redis.keys(`${prefix}:{run:${run.id}}:*`)).sort();
    await until(async () => (await left()).length === 3, 5_000, 'three keys left').catch(() => undefined);
    const keys = await left();
    await redis.quit();
    expect(keys).toEqual(
      [
        `${prefix}:{run:${run.id}}:config`,
        `${prefix}:{run:${run.id}}:history`,
        `${prefix}:{run:${run.id}}:state`,
      ].sort(),
    );
  });
});

/** A coordinator and one worker on `env` (pushed to `procs` for clean-up) train 20 XOR steps; the final state. */
async function trainXor(env: Record<string, string>, procs: AppProcess[]): Promise<string> {
  const c = startApp('coordinator', { ...env, NNQ_PORT: '0' });
  procs.push(c);
  const [, port] = await c.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
  const w = startApp('worker', env);
  procs.push(w);
  await w.waitFor(/serving \/health and \/metrics/);
  const base = `http://127.0.0.1:${port}`;
  const r = await submitRun(base, { ...exampleConfig('xor.json'), steps: 20 });
  return (await waitForRun(base, r.id)).state;
}

describe('access', () => {
  const redisUrl = inject('redisUrl');

  it('requires the bearer token on mutating endpoints when NNQ_API_TOKEN is set', async () => {
    const prefix = uniquePrefix('auth');
    const token = 'a-long-enough-test-token';
    const c = startApp('coordinator', { REDIS_URL: redisUrl, NNQ_PREFIX: prefix, NNQ_PORT: '0', NNQ_API_TOKEN: token });
    try {
      const [, port] = await c.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      const base = `http://127.0.0.1:${port}`;
      const post = (headers: Record<string, string>) =>
        fetch(`${base}/runs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: '{}',
        });
      expect((await post({})).status).toBe(401);
      const wrong = await post({ authorization: 'Bearer not-the-token-at-all' });
      expect(wrong.status).toBe(401);
      expect(await wrong.text()).toMatch(/does not match NNQ_API_TOKEN/);
      // with the token the request reaches validation (400 for the empty config)
      expect((await post({ authorization: `Bearer ${token}` })).status).toBe(400);
      expect((await fetch(`${base}/runs`)).status).toBe(200);
    } finally {
      await stopApp(c);
    }
  });

  it('trains through a Redis ACL user limited to its prefix (the docs/faults.md ACL line)', async () => {
    const redis = await startRedisServer();
    const admin = new Redis(redis.url);
    const prefix = uniquePrefix('acl');
    const dataDir = mkdtempSync(join(tmpdir(), 'nnq-acl-'));
    const procs: AppProcess[] = [];
    try {
      await admin.call(
        'ACL',
        'SETUSER',
        'nnq',
        'on',
        '>s3cret-pass',
        `~${prefix}:*`,
        `&${prefix}:*`,
        '+@all',
        '-@admin',
        '-@dangerous',
        '+info',
        '+scan',
      );
      // the default user is switched off: only the ACL user can get in
      await admin.call('ACL', 'SETUSER', 'default', 'off');
      const url = `redis://nnq:s3cret-pass@127.0.0.1:${redis.port}`;
      const env = { REDIS_URL: url, NNQ_PREFIX: prefix, NNQ_DATA_DIR: dataDir };
      expect(await trainXor(env, procs)).toBe('completed');
    } finally {
      await Promise.all(procs.map((p) => stopApp(p)));
      admin.disconnect();
      await redis.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('trains over TLS (rediss://) with the CA given to Node', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nnq-tls-'));
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    ssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=nnq-test-ca',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
    );
    ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
    );
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    ssl(
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      'san.ext',
      '-out',
      'server.crt',
    );
    const tlsPort = await freePort();
    const redis = await startRedisServer([
      '--tls-port',
      String(tlsPort),
      '--tls-cert-file',
      join(dir, 'server.crt'),
      '--tls-key-file',
      join(dir, 'server.key'),
      '--tls-ca-cert-file',
      join(dir, 'ca.crt'),
      '--tls-auth-clients',
      'no',
    ]);
    const prefix = uniquePrefix('tls');
    const procs: AppProcess[] = [];
    try {
      const env = {
        REDIS_URL: `rediss://127.0.0.1:${tlsPort}`,
        NODE_EXTRA_CA_CERTS: join(dir, 'ca.crt'),
        NNQ_PREFIX: prefix,
        NNQ_DATA_DIR: join(dir, 'data'),
      };
      expect(await trainXor(env, procs)).toBe('completed');
    } finally {
      await Promise.all(procs.map((p) => stopApp(p)));
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to listen beyond loopback without a token', async () => {
    const c = startApp('coordinator', { REDIS_URL: redisUrl, NNQ_HOST: '0.0.0.0', NNQ_PORT: '0' });
    expect(await c.exited).toBe(78);
    expect(c.output()).toMatch(/refusing to listen on 0\.0\.0\.0 without NNQ_API_TOKEN/);
  });
});

describe('sharing the worker pool', () => {
  const redisUrl = inject('redisUrl');

  it('lets a run with few shards through while a run with many shards holds the queue', async () => {
    const prefix = uniquePrefix('fair');
    const dataDir = mkdtempSync(join(tmpdir(), 'nnq-fair-'));
    const env = { REDIS_URL: redisUrl, NNQ_PREFIX: prefix, NNQ_DATA_DIR: dataDir };
    const c = startApp('coordinator', { ...env, NNQ_PORT: '0' });
    const w = startApp('worker', env);
    try {
      const [, port] = await c.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      await w.waitFor(/serving \/health and \/metrics/);
      const base = `http://127.0.0.1:${port}`;
      // one worker; the big run queues 16 shards a step, the small one 1
      const big = await submitRun(base, { ...exampleConfig('spirals.json'), name: 'big', shards: 16, epochs: 100 });
      await until(
        async () => (await getJson<{ step: number }>(`${base}/runs/${big.id}`)).step >= 2,
        60_000,
        'the big run to start',
      );
      const small = await submitRun(base, { ...exampleConfig('xor.json'), name: 'small', steps: 30, shards: 1 });
      const bigAtStart = (await getJson<{ step: number }>(`${base}/runs/${big.id}`)).step;
      expect((await waitForRun(base, small.id)).state).toBe('completed');
      const bigAtEnd = (await getJson<{ step: number }>(`${base}/runs/${big.id}`)).step;
      // served first-come-first-served, each small step would wait for up to 16 big shards (30
      // small steps ~ 30 big steps); with the small run's jobs ahead (priority = shards per step)
      // a small step waits for at most the one big shard being computed: ~30/16 big steps
      expect(bigAtEnd - bigAtStart).toBeLessThanOrEqual(8);
      await fetch(`${base}/runs/${big.id}/cancel`, { method: 'POST' });
    } finally {
      await Promise.all([stopApp(w), stopApp(c)]);
      const redis = new Redis(redisUrl);
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

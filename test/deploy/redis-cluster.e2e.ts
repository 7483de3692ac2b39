import { Cluster } from 'ioredis';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TestCluster } from '../support/cluster';
import { getJson, startApp, stopApp, uniquePrefix, until, type AppProcess } from '../support/processes';
import { exampleConfig, modelParams, submitRun, waitForRun, type RunView } from '../support/runs';
import { hasTool } from '../support/tools';

const SUITE = 'test/deploy/redis-cluster.e2e.ts';
const skip = !hasTool('redis-server', SUITE) || !hasTool('redis-cli', SUITE);

const PASSWORD = 'cluster-test-secret';
const MASTERS = 3;

/** A free port whose cluster bus port (port + 10000) is free too. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  const listen = (port: number) =>
    new Promise<number | null>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(null));
      s.listen(port, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
  for (;;) {
    const p = await listen(0);
    if (p && p < 55_000 && !taken.has(p) && (await listen(p + 10_000)) !== null) return p;
  }
}

function redisCli(port: number, ...args: string[]): string {
  const r = spawnSync('redis-cli', ['-p', String(port), '-a', PASSWORD, '--no-auth-warning', ...args], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

describe.skipIf(skip)('a Redis Cluster of three masters', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nnq-redis-cluster-'));
  const ports: number[] = [];
  const servers: ChildProcess[] = [];
  const prefix = uniquePrefix('rcluster');
  let env: Record<string, string> = {};
  let coordinator: AppProcess | undefined;
  const workers: AppProcess[] = [];
  let base = '';
  const runIds: string[] = [];

  beforeAll(async () => {
    const taken = new Set<number>();
    for (let i = 0; i < MASTERS; i++) {
      const p = await freeClusterPort(taken);
      taken.add(p);
      ports.push(p);
    }
    for (const p of ports) {
      // redis-server's options, each `--name value`
      const options: Record<string, string> = {
        port: String(p),
        bind: '127.0.0.1',
        'cluster-enabled': 'yes',
        'cluster-config-file': `nodes-${p}.conf`,
        'cluster-node-timeout': '5000',
        dir,
        save: '',
        appendonly: 'no',
        requirepass: PASSWORD,
        masterauth: PASSWORD,
        'maxmemory-policy': 'noeviction',
      };
      const args = Object.entries(options).flatMap(([name, value]) => [`--${name}`, value]);
      const server = spawn('redis-server', args, { stdio: 'ignore' });
      servers.push(server);
    }
    for (const p of ports) await until(async () => redisCli(p, 'PING').trim() === 'PONG', 10_000, `redis ${p}`);
    redisCli(
      ports[0],
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    );
    for (const p of ports)
      await until(
        async () => /cluster_state:ok/.test(redisCli(p, 'CLUSTER', 'INFO')),
        20_000,
        `cluster_state:ok on ${p}`,
      );

    env = {
      REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${ports[0]}`,
      REDIS_CLUSTER_NODES: ports.map((p) => `127.0.0.1:${p}`).join(','),
      NNQ_PREFIX: prefix,
      NNQ_DATA_DIR: join(dir, 'data'),
      NNQ_HEARTBEAT_TTL_MS: '2000',
    };
    coordinator = startApp('coordinator', { ...env, NNQ_PORT: '0' });
    const [, port] = await coordinator.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
    base = `http://127.0.0.1:${port}`;
    workers.push(startApp('worker', env), startApp('worker', env));
    await Promise.all(workers.map((w) => w.waitFor(/serving \/health and \/metrics/)));
  });

  afterAll(async () => {
    await Promise.all([...workers, ...(coordinator ? [coordinator] : [])].map((p) => stopApp(p)));
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.exitCode !== null || s.signalCode !== null) return resolve();
            s.once('exit', () => resolve());
            s.kill('SIGTERM');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists both workers (heartbeat MULTI and GET /workers MGET under one hash tag) and is healthy', async () => {
    await until(async () => (await getJson<unknown[]>(`${base}/workers`)).length === 2, 15_000, 'two workers');
    const health = await getJson<{ status: string }>(`${base}/health`);
    expect(health.status).toBe('ok');
  });

  it('trains XOR runs, central, sliced and replicated, bitwise equal to the run on a single Redis', async () => {
    const config = { ...exampleConfig('xor.json'), steps: 40 };
    const [a, b, c, d] = await Promise.all([
      submitRun(base, { ...config, name: 'xor-cluster-a' }),
      submitRun(base, { ...config, name: 'xor-cluster-b', seed: 2 }),
      // sliced reduction: the reducers' and the publish scripts' keys share the run's slot
      submitRun(base, { ...config, name: 'xor-cluster-sliced', reduce: { slices: 2, sliceAbove: 0 } }),
      // replicated: gradients, snapshots and their version share the run's slot
      submitRun(base, { ...config, name: 'xor-cluster-replicated', reduce: { strategy: 'replicated' } }),
    ]);
    const done = await Promise.all([a, b, c, d].map((r) => waitForRun(base, r.id, 150_000)));
    expect(done.map((r) => [r.state, r.step])).toEqual([
      ['completed', 40],
      ['completed', 40],
      ['completed', 40],
      ['completed', 40],
    ]);
    runIds.push(a.id, b.id, c.id, d.id);
    // run states of several hash slots in one listing
    const listed = await getJson<RunView[]>(`${base}/runs`);
    expect(listed.map((r) => r.id)).toEqual(expect.arrayContaining([a.id, b.id]));
    const clustered = await modelParams(base, a.id);

    const single = new TestCluster(inject('redisUrl'), 'rcluster-ref');
    try {
      await single.startCoordinator();
      await single.addWorker();
      const ref = await submitRun(single.base, { ...config, name: 'xor-single' });
      expect((await waitForRun(single.base, ref.id, 150_000)).state).toBe('completed');
      expect((await modelParams(single.base, ref.id)).equals(clustered)).toBe(true);
      expect((await modelParams(base, c.id)).equals(clustered)).toBe(true);
      expect((await modelParams(base, d.id)).equals(clustered)).toBe(true);
    } finally {
      await single.stop();
    }
  });

  it('spreads the keys over the masters: runs, datasets and BullMQ in different slots', async () => {
    const perNode = ports.map((p) => Number(redisCli(p, 'DBSIZE').trim()));
    expect(perNode.filter((n) => n > 0).length).toBeGreaterThan(1);
    const cluster = new Cluster(
      ports.map((p) => ({ host: '127.0.0.1', port: p })),
      { redisOptions: { password: PASSWORD } },
    );
    try {
      await new Promise<void>((resolve, reject) => cluster.once('ready', resolve).once('error', reject));
      const masters = cluster.nodes('master');
      expect(masters.length).toBe(MASTERS);
      const all = (await Promise.all(masters.map((m) => m.keys('*')))).flat();
      expect(all.some((k) => k.startsWith(`{${prefix}:bull}:`))).toBe(true);
      expect(all.some((k) => k.startsWith(`${prefix}:{workers}`))).toBe(true);
      // a finished run keeps its config, history and state; its transient keys are gone
      for (const id of runIds)
        expect(all.filter((k) => k.includes(`{run:${id}}`)).sort()).toEqual(
          ['config', 'history', 'state'].map((s) => `${prefix}:{run:${id}}:${s}`),
        );
    } finally {
      cluster.disconnect();
    }
  });

  it('serves the dashboard feed and logs no cross-slot or redirection errors', async () => {
    // the dashboard's poller reads every run's history: runs in different slots
    const feed = await fetch(`${base}/events`, { signal: AbortSignal.timeout(1500) });
    expect(feed.status).toBe(200);
    await feed.text().catch(() => undefined);
    const logs = [coordinator!, ...workers].map((p) => p.output()).join('\n');
    expect(logs).not.toMatch(/CROSSSLOT|MOVED|ASK |same slot|slots allocation/i);
  });

  it('stops a worker on SIGTERM (shutdown closes the Cluster connections)', async () => {
    const w = workers.pop()!;
    const started = Date.now();
    await stopApp(w, 15_000);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(w.output()).toMatch(/left/);
  });
});

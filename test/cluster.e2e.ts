import { Redis } from 'ioredis';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { getJson, startApp, stopApp, uniquePrefix, until, type AppProcess } from './support/processes';

interface WorkerView {
  id: string;
  host: string;
  pid: number;
  concurrency: number;
  version: string;
  lastSeen: string;
}

describe('a coordinator and two workers as real processes', () => {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('cluster');
  const env = { REDIS_URL: redisUrl, NNQ_PREFIX: prefix, NNQ_HEARTBEAT_TTL_MS: '1500' };
  let coordinator: AppProcess;
  let workers: AppProcess[] = [];
  let base = '';

  beforeAll(async () => {
    coordinator = startApp('coordinator', { ...env, NNQ_PORT: '0' });
    const [, port] = await coordinator.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
    base = `http://127.0.0.1:${port}`;
    workers = [startApp('worker', env), startApp('worker', { ...env, NNQ_WORKER_CONCURRENCY: '3' })];
    await Promise.all(workers.map((w) => w.waitFor(/serving \/health and \/metrics/)));
  });

  afterAll(async () => {
    await Promise.all([...workers, coordinator].filter(Boolean).map((p) => stopApp(p)));
    const redis = new Redis(redisUrl);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('lists both workers with host, pid, concurrency, version and last seen', async () => {
    const list = await until(
      async () => {
        const l = await getJson<WorkerView[]>(`${base}/workers`);
        return l.length === 2 && l;
      },
      10_000,
      'two workers',
    );
    expect(list.map((w) => w.pid).sort()).toEqual(workers.map((w) => w.pid).sort());
    const w3 = list.find((w) => w.pid === workers[1].pid)!;
    expect(w3.concurrency).toBe(3);
    expect(w3.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(Date.now() - Date.parse(w3.lastSeen)).toBeLessThan(5_000);
  });

  it('serves /health with a Redis check and /metrics in the Prometheus format, on both apps', async () => {
    const health = await getJson<{ status: string; details: { redis: { status: string } } }>(`${base}/health`);
    expect(health).toMatchObject({ status: 'ok', details: { redis: { status: 'up' } } });
    const [, workerPort] = await workers[0].waitFor(/on http:\/\/127\.0\.0\.1:(\d+)/);
    const wHealth = await getJson<{ status: string }>(`http://127.0.0.1:${workerPort}/health`);
    expect(wHealth.status).toBe('ok');
    const metrics = await (await fetch(`http://127.0.0.1:${workerPort}/metrics`)).text();
    expect(metrics).toMatch(/^# TYPE process_cpu_user_seconds_total counter$/m);
    expect(metrics).toMatch(/app="worker"/);
  });

  it('drops a SIGKILLed worker within its heartbeat TTL', async () => {
    const victim = workers[0];
    victim.child.kill('SIGKILL');
    await victim.exited;
    const killedAt = Date.now();
    const list = await until(
      async () => {
        const l = await getJson<WorkerView[]>(`${base}/workers`);
        return l.length === 1 && l;
      },
      5_000,
      'the killed worker to leave',
    );
    expect(list[0].pid).toBe(workers[1].pid);
    expect(Date.now() - killedAt).toBeLessThan(1500 + 1000);
  });

  it('closes cleanly on SIGTERM and leaves /workers at once', async () => {
    const code = await stopApp(workers[1]);
    // Nest closes the app, then re-raises the signal: a clean shutdown ends by SIGTERM
    expect(code === 0 || workers[1].child.signalCode === 'SIGTERM').toBe(true);
    expect(workers[1].output()).toMatch(/worker \S+ left/);
    const list = await getJson<WorkerView[]>(`${base}/workers`);
    expect(list).toEqual([]);
    await stopApp(coordinator);
    expect(coordinator.child.signalCode === 'SIGTERM' || coordinator.child.exitCode === 0).toBe(true);
  });
});

describe('boot-time configuration', () => {
  it.each([
    ['coordinator', { NNQ_PORT: 'http' }, /NNQ_PORT: NNQ_PORT must be an integer port 0-65535 \(got "http"\)/],
    ['worker', { REDIS_URL: 'localhost' }, /REDIS_URL: REDIS_URL must be a URL of the form redis:\/\//],
    ['worker', { NNQ_WORKER_CONCURRENCY: '-2' }, /NNQ_WORKER_CONCURRENCY must be an integer >= 1/],
  ] as const)('%s refuses %o and names the variable', async (app, env, message) => {
    const p = startApp(app, env);
    expect(await p.exited).toBe(78);
    expect(p.output()).toMatch(message);
  });
});

describe('nnq up', () => {
  it('names the three ways out when no Redis answers and no redis-server is installed', async () => {
    const p = startApp('cli', { NNQ_REDIS_SERVER: '/nonexistent/redis-server', REDIS_URL: 'redis://127.0.0.1:1' }, [
      'up',
      '--workers',
      '1',
    ]);
    expect(await p.exited).toBe(69);
    expect(p.output()).toMatch(/install Redis[\s\S]*REDIS_URL=[\s\S]*docker compose up/);
  });

  it('starts a throwaway Redis, a coordinator and N workers, and stops exactly them on SIGTERM', async () => {
    const port = String(20000 + Math.floor(Math.random() * 20000));
    const p = startApp('cli', { REDIS_URL: 'redis://127.0.0.1:1', NNQ_PORT: port }, ['up', '--workers', '2']);
    await p.waitFor(/local cluster is up \(2 workers\)/, 60_000);
    const [, redisPid] = p.output().match(/throwaway redis-server at \S+ \(pid (\d+)\)/)!;
    const list = await getJson<WorkerView[]>(`http://127.0.0.1:${port}/workers`);
    expect(list).toHaveLength(2);
    const pids = [Number(redisPid), ...list.map((w) => w.pid)];
    expect(await stopApp(p, 30_000)).toBe(0);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  });

  it('leaves nothing running when it is SIGKILLed: the coordinator takes the throwaway Redis with it', async () => {
    const port = String(20000 + Math.floor(Math.random() * 20000));
    const p = startApp('cli', { REDIS_URL: 'redis://127.0.0.1:1', NNQ_PORT: port }, ['up', '--workers', '1']);
    await p.waitFor(/local cluster is up \(1 workers?\)/, 60_000);
    const [, redisUrl] = p.output().match(/throwaway redis-server at (\S+) \(pid \d+\)/)!;
    const [{ pid: workerPid }] = await getJson<WorkerView[]>(`http://127.0.0.1:${port}/workers`);
    const coordinatorPid = Number(p.output().match(/coordinator\[(\d+)\]/)![1]);
    p.child.kill('SIGKILL');
    await p.exited;
    // orphans are reparented; one that exited may linger as a zombie until reaped: gone either way
    const gone = (pid: number) => {
      try {
        return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return true;
      }
    };
    const redisDown = () =>
      new Promise<boolean>((r) => {
        const s = connect(Number(new URL(redisUrl).port), '127.0.0.1');
        s.once('connect', () => (s.destroy(), r(false)));
        s.once('error', () => r(true));
      });
    await until(
      async () => (await redisDown()) && gone(workerPid) && gone(coordinatorPid),
      30_000,
      'the Redis, the coordinator and the worker to stop',
    );
  });
});

import type { WorkerInfo } from '@nnq/protocol';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TestCluster, type TestWorker } from './support/cluster';
import { getJson, stopApp, until } from './support/processes';

/** What GET /workers lists for one worker: the HTTP contract's WorkerInfo (@nnq/protocol). */
type WorkerView = WorkerInfo;

describe('a coordinator and two workers as real processes', () => {
  const cluster = new TestCluster(inject('redisUrl'), 'cluster', { NNQ_HEARTBEAT_TTL_MS: '1500' });
  let workers: TestWorker[] = [];
  let base = '';

  beforeAll(async () => {
    await cluster.startCoordinator();
    base = cluster.base;
    // in this order: the second runs 3 jobs at once
    workers = await Promise.all([cluster.addWorker(), cluster.addWorker({ NNQ_WORKER_CONCURRENCY: '3' })]);
  });

  afterAll(() => cluster.stop());

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
    const wHealth = await getJson<{ status: string }>(`${workers[0].url}/health`);
    expect(wHealth.status).toBe('ok');
    const metrics = await (await fetch(`${workers[0].url}/metrics`)).text();
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
    const coordinator = cluster.coordinator!;
    await stopApp(coordinator);
    expect(coordinator.child.signalCode === 'SIGTERM' || coordinator.child.exitCode === 0).toBe(true);
  });
});

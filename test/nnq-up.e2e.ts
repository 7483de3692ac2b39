import type { WorkerInfo } from '@nnq/protocol';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { getJson, startApp, stopApp, until } from './support/processes';
import { freePort } from '@nnq/launch';

/** What GET /workers lists for one worker: the HTTP contract's WorkerInfo (@nnq/protocol). */
type WorkerView = WorkerInfo;

// `nnq up`: a local cluster in the foreground that stops exactly what it started.
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
    const port = String(await freePort());
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
    const port = String(await freePort());
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

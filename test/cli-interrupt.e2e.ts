import { KeySchema } from '@nnq/protocol';
import { Redis } from 'ioredis';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { localClusterEnv } from './support/local-cluster-env';
import { startApp, stopApp, uniquePrefix, until, type AppProcess } from './support/processes';
import { deletePrefix } from './support/redis';

const example = (name: string) =>
  JSON.parse(readFileSync(resolve(__dirname, '..', 'examples', name), 'utf8')) as Record<string, unknown>;

/**
 * Ctrl-C of `nnq train` and `nnq sweep` on the local cluster they start when no coordinator answers
 * (apps/cli/src/coordinator-session.ts, one behaviour for both): the first one cancels the run or
 * sweep (the coordinator records it cancelled) and stops the cluster, exit 130; a second one kills
 * the cluster's processes at once, exit 130. No step of it is timed: each waits for what it needs.
 */
describe('Ctrl-C of nnq train and nnq sweep on their local cluster', () => {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('interrupt');
  const keys = new KeySchema(prefix);
  const dir = mkdtempSync(join(tmpdir(), 'nnq-interrupt-'));
  // long enough that nothing ends before the test interrupts it
  const run = join(dir, 'spirals-long.json');
  const sweep = join(dir, 'sweep-long.json');
  let redis: Redis;
  let env: NodeJS.ProcessEnv = {};
  const started: AppProcess[] = [];

  beforeAll(async () => {
    redis = new Redis(redisUrl);
    writeFileSync(run, JSON.stringify({ ...example('spirals.json'), epochs: 1000 }));
    const base = { ...(example('sweep-spirals.json').base as object), epochs: 1000 };
    const space = { 'optimizer.lr': { type: 'grid', values: [0.01, 0.003] } };
    const budget = { maxTrials: 2, maxConcurrent: 2 };
    writeFileSync(
      sweep,
      JSON.stringify({ ...example('sweep-spirals.json'), base, space, budget, scheduler: undefined }),
    );
    env = await localClusterEnv(redisUrl, prefix, dir);
  });

  afterAll(async () => {
    for (const p of started) await stopApp(p, 2_000);
    // whatever a failed test left behind (the SIGSTOPped coordinator too)
    for (const pid of started.flatMap((p) => clusterPids(p.output()))) if (alive(pid)) process.kill(pid, 'SIGKILL');
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
    await deletePrefix(redisUrl, prefix);
  });

  function nnq(args: string[]): AppProcess {
    const p = startApp('cli', env, [...args, '--workers', '2', '--verbose']);
    started.push(p);
    return p;
  }

  /** Pids of the local cluster's coordinator and workers, from their log tags (--verbose). */
  const clusterPids = (out: string) => [
    ...new Set([...out.matchAll(/^(?:coordinator|worker)\[(\d+)\]/gm)].map((m) => Number(m[1]))),
  ];
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const stateOf = async (key: string) => (JSON.parse((await redis.get(key)) ?? '{}') as { state?: string }).state;

  it('nnq train: the first Ctrl-C cancels the run, stops the cluster and exits 130', async () => {
    const p = nnq(['train', run]);
    const [, id] = await p.waitFor(/^run (\w+) submitted/m, 120_000);
    await p.waitFor(/^step [1-9]\d*\//m, 120_000);
    const pids = clusterPids(p.output());
    expect(pids.length).toBe(3);
    p.child.kill('SIGINT');
    expect(await p.exited, p.output()).toBe(130);
    expect(p.output()).toMatch(new RegExp(`^interrupted: cancelled run ${id}; stopping the local cluster$`, 'm'));
    expect(await stateOf(keys.runState(id))).toBe('cancelled');
    expect(pids.filter(alive)).toEqual([]);
  });

  it('nnq sweep: the first Ctrl-C cancels the sweep and its trials, stops the cluster and exits 130', async () => {
    const p = nnq(['sweep', sweep]);
    const [, id] = await p.waitFor(/^sweep (\w+) submitted/m, 120_000);
    await p.waitFor(/^trial t\d running/m, 120_000);
    const pids = clusterPids(p.output());
    p.child.kill('SIGINT');
    expect(await p.exited, p.output()).toBe(130);
    expect(p.output()).toMatch(new RegExp(`^interrupted: cancelled sweep ${id}; stopping the local cluster$`, 'm'));
    const record = JSON.parse((await redis.get(keys.sweepState(id)))!) as {
      state: string;
      trials: { runId?: string }[];
    };
    expect(record.state).toBe('cancelled');
    const runs = record.trials.flatMap((t) => (t.runId ? [t.runId] : []));
    expect(runs.length).toBeGreaterThan(0);
    for (const runId of runs) expect(await stateOf(keys.runState(runId))).toBe('cancelled');
    expect(pids.filter(alive)).toEqual([]);
  });

  it('nnq train: a second Ctrl-C kills the local cluster at once and exits 130', async () => {
    const p = nnq(['train', run]);
    await p.waitFor(/^run \w+ submitted/m, 120_000);
    const [, coordinator] = p.output().match(/^coordinator\[(\d+)\]/m)!;
    const pids = clusterPids(p.output());
    expect(pids.length).toBe(3);
    // a coordinator that hangs: the first Ctrl-C's cancel and stop cannot finish (a stopped process
    // answers nothing and ignores SIGTERM), so nnq is still stopping when the second one comes
    process.kill(Number(coordinator), 'SIGSTOP');
    p.child.kill('SIGINT');
    await p.waitFor(/^stopping the local cluster \(Ctrl-C again kills it\)$/m);
    p.child.kill('SIGINT');
    expect(await p.exited, p.output()).toBe(130);
    expect(p.output()).toMatch(/^interrupted again: killed the local cluster$/m);
    expect(p.output()).not.toMatch(/^interrupted: cancelled/m);
    // SIGKILLed (a stopped process too), they are gone as soon as the kernel has reaped them
    await until(async () => pids.filter(alive).length === 0, 10_000, 'the killed processes to be gone');
  });
});

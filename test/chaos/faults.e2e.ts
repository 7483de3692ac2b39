import { createTrainingEngine } from '@nnq/engine-onnx';
import { parseRunConfig, trainLocal } from '@nnq/training';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { startRedisServer } from '@nnq/launch';
import { TestCluster, type TestWorker } from '../support/cluster';
import { getJson, until } from '../support/processes';
import { killInTurn } from '../support/kills';
import { exampleConfig, modelParams, submitRun, waitForRun, type RunView } from '../support/runs';
import { expectFaultFree, slowest, STRATEGIES, submitEach, type StrategyRun } from '../support/strategy-runs';

// Whatever fails, a run finishes with exactly the weights of a fault-free run.
// Two spirals, 4 shards per step, 128 rows per step: 12 steps per epoch.
const base = exampleConfig('spirals.json');
const config = (epochs: number, extra: Record<string, unknown> = {}) => ({
  ...base,
  name: `chaos-${epochs}`,
  epochs,
  ...extra,
});

const reference = new Map<number, Buffer>();
async function faultFree(epochs: number): Promise<Buffer> {
  let p = reference.get(epochs);
  if (!p) {
    const r = await trainLocal(parseRunConfig(config(epochs)), { engine: createTrainingEngine });
    p = Buffer.from(r.params.buffer);
    reference.set(epochs, p);
  }
  return p;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const run = (c: TestCluster, id: string) => getJson<RunView>(`${c.base}/runs/${id}`);

/** A coordinator and 3 workers for runs trained through worker and coordinator SIGKILLs. */
async function killableCluster(redisUrl: string, prefix: string): Promise<TestCluster> {
  const cluster = new TestCluster(redisUrl, prefix, {
    NNQ_LOCK_DURATION_MS: '1000',
    NNQ_CHAOS_SHARD_DELAY_MS: '40',
    NNQ_MAX_WORKER_DEATHS: '6', // as in the worker kills below
  });
  try {
    await cluster.startCoordinator();
    for (let i = 0; i < 3; i++) await cluster.addWorker();
  } catch (err) {
    await cluster.stop(); // not the test's yet: its afterEach would not stop it
    throw err;
  }
  return cluster;
}

describe('chaos', () => {
  const redisUrl = inject('redisUrl');
  let cluster: TestCluster | undefined;

  beforeAll(async () => {
    await faultFree(6);
    await faultFree(40);
    await faultFree(18);
  });

  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('survives 20 worker SIGKILLs in the middle of shards, bit for bit', async () => {
    // short locks so a dead worker's job is taken over within ~1.5 s; every shard takes >= 80 ms
    cluster = new TestCluster(redisUrl, 'wkill', {
      NNQ_LOCK_DURATION_MS: '1000',
      NNQ_CHAOS_SHARD_DELAY_MS: '80',
      // 20 kills may catch one job twice (a job queued ahead rides along): more than the default 2
      NNQ_MAX_WORKER_DEATHS: '6',
    });
    await cluster.startCoordinator();
    for (let i = 0; i < 3; i++) await cluster.addWorker();
    // 480 steps: on a loaded 2-core machine each kill and worker boot let a run go on for up to
    // 36 steps, and 288 steps ran out after 8 kills
    const runs = await submitEach(cluster, config(40));
    const recoveries: number[] = [];
    for (let k = 0; k < 20; k++) {
      const before = await slowest(cluster, runs);
      if (before === Infinity) break;
      const victim = cluster.workers[k % cluster.workers.length];
      const killedAt = Date.now();
      await cluster.kill(victim);
      const replacement = cluster.addWorker();
      // recovered when the slowest run's step that was in flight at the kill has completed
      await until(async () => (await slowest(cluster!, runs)) > before, 30_000, 'recovery');
      recoveries.push(Date.now() - killedAt);
      await replacement;
    }
    expect(recoveries.length).toBeGreaterThanOrEqual(20);
    console.log(
      `worker kills: ${recoveries.length}, recovery median ${median(recoveries)} ms, max ${Math.max(...recoveries)} ms`,
    );
    await expectFaultFree(cluster, runs, await faultFree(40), 300_000);
    // 20 worker starts, 3-10 s each on a loaded 2-core machine, dominate: the default 180 s was too tight there
  }, 420_000);

  it('recomputes a straggler’s shard elsewhere; the first copy counts, bit for bit', async () => {
    cluster = new TestCluster(redisUrl, 'slow', { NNQ_STRAGGLER_MS: '300' });
    await cluster.startCoordinator();
    // the slow worker alone first, so that every run has late shards: it holds the first run's, the
    // next runs' wait for it. (With the fast workers there from the start, a fast machine finished
    // one run before the slow worker took any of its shards: nothing of it was late.)
    await cluster.addWorker({ NNQ_CHAOS_SHARD_DELAY_MS: '4000' });
    const late = (id: string) => new RegExp(`\\[Run ${id}\\] step \\d+: shards [\\d, ]+ late`);
    const runs: StrategyRun[] = [];
    for (const strategy of STRATEGIES) {
      const { id } = await submitRun(cluster.base, { ...config(6), name: `chaos-6-${strategy}`, reduce: { strategy } });
      runs.push({ strategy, id });
      // the coordinator queued some shard of the run again (it logs it under the run's name)
      await until(async () => late(id).test(cluster!.coordinator!.output()), 30_000, `a late ${strategy} shard`);
    }
    await cluster.addWorker();
    await cluster.addWorker();
    await expectFaultFree(cluster, runs, await faultFree(6));
  });

  it('changes nothing when workers join and leave during a run', async () => {
    cluster = new TestCluster(redisUrl, 'churn', { NNQ_CHAOS_SHARD_DELAY_MS: '20' });
    await cluster.startCoordinator();
    await cluster.addWorker();
    const runs = await submitEach(cluster, config(6));
    for (let k = 0; k < 4; k++) {
      await until(async () => (await slowest(cluster!, runs)) >= (k + 1) * 8, 60_000, 'progress');
      if (k % 2 === 0) await cluster.addWorker();
      else {
        const leaving = cluster.workers.shift()!;
        leaving.child.kill('SIGTERM'); // graceful leave: it finishes its shards, then exits
        expect(
          await Promise.race([leaving.exited.then(() => 'exited'), sleep(30_000).then(() => 'still running')]),
        ).toBe('exited');
      }
    }
    await expectFaultFree(cluster, runs, await faultFree(6));
  });

  it('lets a worker told to stop (SIGTERM) finish the shards it holds, then exit', async () => {
    // shards of about 0.1 s on one compute thread and 2 shards for 1 worker: the worker holds one
    // shard computing and the next one waiting for the thread almost all the time
    cluster = new TestCluster(redisUrl, 'term', { NNQ_WORKER_CONCURRENCY: '1' });
    await cluster.startCoordinator();
    const worker = await cluster.addWorker();
    const wide = {
      ...base,
      name: 'wide',
      epochs: undefined,
      steps: 8,
      batchSize: 1600,
      shards: 2,
      model: {
        ...(base.model as object),
        layers: [
          { units: 768, activation: 'tanh' },
          { units: 768, activation: 'tanh' },
          { units: 2, activation: 'softmax' },
        ],
      },
    };
    const runs = await submitEach(cluster, wide);
    await until(async () => (await slowest(cluster!, runs)) >= 2, 60_000, 'two steps');
    await sleep(Math.floor(Math.random() * 100));
    worker.child.kill('SIGTERM');
    // Nest re-raises the signal once closed: the exit code is null (killed by SIGTERM)
    const exit = await Promise.race([worker.exited.then(() => 'exited'), sleep(20_000).then(() => 'still running')]);
    expect(exit).toBe('exited');
    cluster.workers.splice(cluster.workers.indexOf(worker), 1);
    await cluster.addWorker();
    const local = await trainLocal(parseRunConfig(wide), { engine: createTrainingEngine });
    await expectFaultFree(cluster, runs, Buffer.from(local.params.buffer));
    // its shards were finished, not abandoned: no attempt failed or stalled
    const metrics = await (await fetch(`${cluster.base}/metrics`)).text();
    const count = (name: string) => Number(new RegExp(`^${name}\\S* (\\d+)`, 'm').exec(metrics)?.[1]);
    expect([count('nnq_jobs_retried_total'), count('nnq_jobs_stalled_total')]).toEqual([0, 0]);
  });

  it('resumes every run from its checkpoint after 10 coordinator SIGKILLs, bit for bit', async () => {
    cluster = new TestCluster(redisUrl, 'ckill', { NNQ_CHAOS_SHARD_DELAY_MS: '20' });
    await cluster.startCoordinator();
    await cluster.addWorker();
    await cluster.addWorker();
    const runs = await submitEach(cluster, config(6, { checkpoint: { every: 3 } }));
    let kills = 0;
    while (kills < 10) {
      const at = await slowest(cluster, runs);
      if (at >= 66) break;
      // let the slowest run make a little progress (a random amount), then kill it without warning
      await until(async () => (await slowest(cluster!, runs)) >= at + 1 + (kills % 3), 60_000, 'progress');
      await sleep(Math.floor(Math.random() * 150));
      await cluster.kill(cluster.coordinator!);
      kills++;
      await cluster.startCoordinator();
    }
    expect(kills).toBe(10);
    await expectFaultFree(cluster, runs, await faultFree(6));
  });

  it('trains a sliced run through worker and coordinator SIGKILLs, bit for bit', async () => {
    // reduce jobs queue the next step's shards: a kill between the two must lose no shard
    cluster = await killableCluster(redisUrl, 'skill');
    // 216 steps, kills before step 208: on a loaded 2-core machine a restart lets the run go on for
    // 10-20 steps, and 144 steps (kills before 136) ran out after 7 kills
    const sliced = config(18, { reduce: { slices: 3, sliceAbove: 0 }, checkpoint: { every: 3 } });
    const r = await submitRun(cluster.base, sliced);
    expect(await killInTurn(cluster, r.id, 208)).toBe(8);
    const done = await waitForRun(cluster.base, r.id, 300_000);
    expect([done.state, done.error]).toEqual(['completed', undefined]);
    expect((await modelParams(cluster.base, r.id)).equals(await faultFree(18))).toBe(true);
  }, 420_000);

  it('trains a replicated run through worker and coordinator SIGKILLs, bit for bit', async () => {
    // every worker keeps a replica: a killed one's successor starts from a snapshot and the kept
    // gradients; a resumed coordinator publishes its checkpoint as the snapshot replicas go back to
    cluster = await killableCluster(redisUrl, 'rkill');
    // 480 steps: a replicated step is fast, and 216 steps ran out after 7 kills
    const replicated = config(40, { reduce: { strategy: 'replicated' }, checkpoint: { every: 5 } });
    const r = await submitRun(cluster.base, replicated);
    expect(await killInTurn(cluster, r.id, 470)).toBe(8);
    const done = await waitForRun(cluster.base, r.id, 300_000);
    expect([done.state, done.error]).toEqual(['completed', undefined]);
    expect((await modelParams(cluster.base, r.id)).equals(await faultFree(40))).toBe(true);
  }, 420_000);

  it('loses nothing and counts nothing twice when workers die holding a half-applied replica update', async () => {
    // each replica update waits 250 ms once applied to the replica's arrays, before its version
    // moves on (NNQ_CHAOS_REPLICA_HOLD_MS): each worker is SIGKILLed inside such a hold, a new one
    // rebuilds its replica from the snapshot and the kept gradients, and the dead one's job runs again
    cluster = new TestCluster(redisUrl, 'rhold', {
      NNQ_LOCK_DURATION_MS: '1000',
      NNQ_CHAOS_REPLICA_HOLD_MS: '250',
      NNQ_MAX_WORKER_DEATHS: '6',
    });
    await cluster.startCoordinator();
    for (let i = 0; i < 3; i++) await cluster.addWorker();
    const r = await submitRun(cluster.base, config(8, { reduce: { strategy: 'replicated' } }));
    // the worker's last chaos line: 'holding' while it holds an update, with the step held
    const lastChaos = (w: TestWorker) =>
      [...w.output().matchAll(/chaos: (holding|released) run \S+ step (\d+)/g)].at(-1);
    const heldSteps: number[] = [];
    const booting: Promise<TestWorker>[] = [];
    let kills = 0;
    let inHold = 0;
    let rebuilding = 0;
    while (kills < 10) {
      // four steps of progress since the last kill, so that the kills spread over the run (the newest
      // worker's boot spaces the odd kills)
      const at = await run(cluster, r.id);
      if (at.state !== 'queued' && at.state !== 'running') break;
      if (kills % 2 === 0) await until(async () => (await run(cluster!, r.id)).step >= at.step + 4, 60_000, 'progress');
      // a worker seen holding an update (outputs read every 10 ms), killed at a random moment of the
      // hold: any worker, and every other kill the newest one in its first, second or third hold: its
      // first updates rebuild its replica from the snapshot (steps more than one behind the run)
      const newest = cluster.workers.at(-1);
      const nth = 1 + (kills % 3);
      const holds = (w: TestWorker) => w.output().match(/chaos: holding/g)?.length ?? 0;
      const holding = (w: TestWorker) =>
        lastChaos(w)?.[1] === 'holding' && (kills % 2 === 0 || (w === newest && holds(w) >= nth));
      let victim: TestWorker | undefined;
      for (const deadline = Date.now() + 60_000; !victim && Date.now() < deadline; await sleep(10))
        victim = cluster.workers.find(holding);
      if (!victim) {
        const v = await run(cluster, r.id);
        const seen = `kills ${kills}, held ${heldSteps.join(', ')}`;
        throw new Error(`no worker held an update within 60 s (run ${v.state} at step ${v.step}; ${seen})`);
      }
      await sleep(Math.floor(Math.random() * 100));
      await cluster.kill(victim);
      kills++;
      const last = lastChaos(victim);
      if (last?.[1] === 'holding') {
        inHold++;
        heldSteps.push(Number(last[2]));
        if (Number(last[2]) < (await run(cluster, r.id)).step - 1) rebuilding++;
      }
      booting.push(cluster.addWorker()); // not awaited: the next kill may come while it boots
    }
    await Promise.all(booting);
    console.log(`killed holding the updates of steps ${heldSteps.join(', ')}; ${rebuilding} while rebuilding`);
    const seen = { kills, inHold, spread: new Set(heldSteps).size >= 5, rebuilt: rebuilding > 0 };
    expect(seen).toEqual({ kills: 10, inHold: 10, spread: true, rebuilt: true });
    await expectFaultFree(cluster, [{ strategy: 'replicated', id: r.id }], await faultFree(8));
    // every step recorded once: none lost, none applied twice
    const history = await getJson<{ type: string; step: number }[]>(`${cluster.base}/runs/${r.id}/history`);
    const steps = history.filter((h) => h.type === 'step').map((h) => h.step);
    expect([steps.length, new Set(steps).size]).toEqual([96, 96]);
  }, 300_000);

  it('continues after Redis restarts (AOF everysec, noeviction)', async () => {
    const redis = await startRedisServer([
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--maxmemory-policy',
      'noeviction',
    ]);
    try {
      cluster = new TestCluster(redis.url, 'rrestart', { NNQ_CHAOS_SHARD_DELAY_MS: '20' });
      await cluster.startCoordinator();
      await cluster.addWorker();
      await cluster.addWorker();
      const runs = await submitEach(cluster, config(6));
      await until(async () => (await slowest(cluster!, runs)) >= 10, 60_000, 'progress');
      const restarted = await redis.restart();
      expect(restarted).toBe(true);
      await expectFaultFree(cluster, runs, await faultFree(6));
    } finally {
      await cluster?.stop();
      cluster = undefined;
      await redis.stop();
    }
  });

  it('stops a run with a NaN loss as failed, with the reason, the step and the last good weights', async () => {
    cluster = new TestCluster(redisUrl, 'nan');
    await cluster.startCoordinator();
    await cluster.addWorker();
    // identity output and sum of squares: weights of 1e30 overflow float32 in the next forward pass
    const poisoned = { ...exampleConfig('xor.json'), steps: 20, optimizer: { type: 'sgd', lr: 1e30 } };
    const r = await submitRun(cluster.base, poisoned);
    const done = await waitForRun(cluster.base, r.id);
    expect(done.state).toBe('failed');
    expect(done.error!.reason).toMatch(/non-finite loss or gradient at step \d+/);
    expect(done.error!.step).toBeGreaterThan(0);
    const last = await modelParams(cluster.base, r.id);
    expect(new Float32Array(last.buffer, last.byteOffset, last.byteLength / 4).every(Number.isFinite)).toBe(true);

    // 8 steps: 7 skipped in a row stay under MAX_SKIPPED_IN_A_ROW (10), after which a run fails
    const skipping = await submitRun(cluster.base, { ...poisoned, steps: 8, onNonFinite: 'skip' });
    const skipped = await waitForRun(cluster.base, skipping.id);
    expect(skipped.state).toBe('completed');
    expect((skipped as RunView & { skippedSteps: number }).skippedSteps).toBeGreaterThan(0);
    const metrics = await (await fetch(`${cluster.base}/metrics`)).text();
    expect(Number(/^nnq_nonfinite_steps_total\S* (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(0);

    // sliced reduction decides the same: the same failing step and last weights, the same skips
    const reduce = { slices: 2, sliceAbove: 0 };
    const slicedFail = await waitForRun(cluster.base, (await submitRun(cluster.base, { ...poisoned, reduce })).id);
    expect(slicedFail.state).toBe('failed');
    expect(slicedFail.error).toEqual(done.error);
    expect((await modelParams(cluster.base, slicedFail.id)).equals(last)).toBe(true);
    const slicedSkip = await submitRun(cluster.base, { ...poisoned, steps: 8, reduce, onNonFinite: 'skip' });
    const slicedSkipped = await waitForRun(cluster.base, slicedSkip.id);
    expect(slicedSkipped.state).toBe('completed');
    expect((slicedSkipped as RunView & { skippedSteps: number }).skippedSteps).toBe(
      (skipped as RunView & { skippedSteps: number }).skippedSteps,
    );
    const skippedModel = await modelParams(cluster.base, skipping.id);
    expect((await modelParams(cluster.base, slicedSkip.id)).equals(skippedModel)).toBe(true);

    // and so does the replicated step, whose workers find the non-finite step themselves
    const replicated = { strategy: 'replicated' };
    const replicatedFail = await waitForRun(
      cluster.base,
      (await submitRun(cluster.base, { ...poisoned, reduce: replicated })).id,
    );
    expect([replicatedFail.state, replicatedFail.error]).toEqual(['failed', done.error]);
    expect((await modelParams(cluster.base, replicatedFail.id)).equals(last)).toBe(true);
    const replicatedSkip = await submitRun(cluster.base, {
      ...poisoned,
      steps: 8,
      reduce: replicated,
      onNonFinite: 'skip',
    });
    const replicatedSkipped = await waitForRun(cluster.base, replicatedSkip.id);
    expect([replicatedSkipped.state, replicatedSkipped.skippedSteps]).toEqual(['completed', skipped.skippedSteps]);
    expect((await modelParams(cluster.base, replicatedSkip.id)).equals(skippedModel)).toBe(true);
  });
});

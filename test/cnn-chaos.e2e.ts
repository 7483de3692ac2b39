import { createTrainingEngine } from '@nnq/engine-onnx';
import { parseRunConfig, trainLocal } from '@nnq/training';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { cnnConfig } from './support/cnn-config';
import { TestCluster } from './support/cluster';
import { getJson, until } from './support/processes';
import { modelParams, submitRun, waitForRun, type RunView } from './support/runs';

const run = (c: TestCluster, id: string) => getJson<RunView>(`${c.base}/runs/${id}`);

// Whatever fails, a CNN run finishes with exactly the weights of a fault-free run (as dense ones do:
// test/chaos/faults.e2e.ts).
describe('chaos on a CNN run', () => {
  // short locks so a dead worker's job is taken over within ~1.5 s; every shard takes >= 80 ms
  const cluster = new TestCluster(inject('redisUrl'), 'cnnkill', {
    NNQ_LOCK_DURATION_MS: '1000',
    NNQ_CHAOS_SHARD_DELAY_MS: '80',
    NNQ_MAX_WORKER_DEATHS: '6',
  });

  afterAll(() => cluster.stop());

  it('survives 4 worker SIGKILLs in the middle of shards, bit for bit', async () => {
    // 240 steps: on a loaded 2-core machine a kill and a worker boot let the run go on for up to ~40 steps
    const config = cnnConfig(30);
    const local = trainLocal(parseRunConfig(config), { engine: createTrainingEngine });
    await cluster.startCoordinator();
    for (let i = 0; i < 3; i++) await cluster.addWorker();
    const r = await submitRun(cluster.base, config);
    let kills = 0;
    while (kills < 4) {
      const before = await run(cluster, r.id);
      if (before.state !== 'running' && before.state !== 'queued') break;
      // kill one while the step is running (its shards are in flight for >= 80 ms)
      await until(async () => (await run(cluster, r.id)).step > before.step, 60_000, 'progress');
      await cluster.kill(cluster.workers[kills % cluster.workers.length]);
      kills++;
      await cluster.addWorker();
    }
    expect(kills).toBe(4);
    const done = await waitForRun(cluster.base, r.id, 170_000);
    expect(done.state).toBe('completed');
    const reference = Buffer.from((await local).params.buffer);
    expect((await modelParams(cluster.base, r.id)).equals(reference)).toBe(true);
  });
});

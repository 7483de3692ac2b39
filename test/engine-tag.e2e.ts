import { createTrainingEngine } from '@nnq/engine-onnx';
import { KeySchema } from '@nnq/protocol';
import { parseRunConfig, trainLocal } from '@nnq/training';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { TestCluster } from './support/cluster';
import { getJson, until } from './support/processes';
import { exampleConfig, modelParams, submitRun, waitForRun, type RunView } from './support/runs';

// A run computes with one engine (issue #22): the ONNX engine's and the reference engine's gradients
// differ in the last bits, so shards of another engine than the run's first ones are refused.
describe('the engine a run computes with', () => {
  // 240 steps of 4 shards, each shard 40 ms at least: long enough for a worker to join mid-run
  const cluster = new TestCluster(inject('redisUrl'), 'engine', { NNQ_CHAOS_SHARD_DELAY_MS: '40' });
  const keys = new KeySchema(cluster.prefix);
  const redis = new Redis(cluster.redisUrl);
  const spirals = (name: string, epochs: number) => ({ ...exampleConfig('spirals.json'), name, epochs });
  const run = (id: string) => getJson<RunView>(`${cluster.base}/runs/${id}`);
  afterAll(async () => {
    await cluster.stop();
    await redis.quit();
  });

  it('is named in the run; a worker of another engine is refused, the shard computed by one of its own', async () => {
    await cluster.startCoordinator();
    // two workers from the start: whichever writes the run's first shard names its engine
    const workers = [await cluster.addWorker(), await cluster.addWorker({ NNQ_ENGINE: 'reference' })];
    const config = spirals('engine-mixed', 3);
    const r = await submitRun(cluster.base, config);
    let refused = 0;
    await until(
      // a refusal, or the run's end (then the asserts below say why): a run still queued is neither
      async () =>
        (refused = await redis.hlen(keys.engineRefusals(r.id))) > 0 ||
        !['queued', 'running'].includes((await run(r.id)).state),
      120_000,
      'a refusal',
    );
    expect(refused).toBeGreaterThan(0);
    const done = await waitForRun(cluster.base, r.id, 170_000);
    expect(done.state).toBe('completed');
    expect(done.engine).toMatch(/^(onnxruntime \d+\.\d+\.\d+|reference nnq \S+)$/);
    // the bytes of the in-process run with that engine
    const prefer = done.engine!.startsWith('reference') ? 'reference' : 'onnx';
    const engine = (spec: Parameters<typeof createTrainingEngine>[0]) => createTrainingEngine(spec, { prefer });
    const local = await trainLocal(parseRunConfig(config), { engine });
    expect((await modelParams(cluster.base, r.id)).equals(Buffer.from(local.params.buffer))).toBe(true);
    // left without a worker of its engine, a run fails and says why
    const second = await submitRun(cluster.base, spirals('engine-left', 20));
    await until(async () => (await run(second.id)).engine !== undefined, 60_000, 'an engine');
    const claimed = (await run(second.id)).engine!;
    const other = claimed.startsWith('reference') ? 'onnxruntime' : 'reference nnq';
    await cluster.kill(workers[claimed.startsWith('reference') ? 1 : 0]);
    const failed = await waitForRun(cluster.base, second.id, 170_000);
    expect(failed.state).toBe('failed');
    expect(failed.error?.reason).toContain(`, but run ${second.id} computes with ${claimed} (`);
    expect(failed.error?.reason).toMatch(
      new RegExp(`computed by ${other} .*: a worker with ${claimed} must compute it`),
    );
  }, 420_000);
});

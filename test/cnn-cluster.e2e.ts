import { createTrainingEngine } from '@nnq/engine-onnx';
import { parseRunConfig, trainLocal } from '@nnq/training';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TestCluster } from './support/cluster';
import { cnnConfig } from './support/cnn-config';
import { modelParams, submitRun, waitForRun } from './support/runs';

// The system's signature holds for CNNs: the final weights are a function of the config and seed alone.
describe('a CNN trains on a cluster of worker processes to the in-process bytes', () => {
  const cluster = new TestCluster(inject('redisUrl'), 'cnn');
  const config = cnnConfig(4);
  let local: Buffer;

  beforeAll(async () => {
    await cluster.startCoordinator();
    const r = await trainLocal(parseRunConfig(config), { engine: createTrainingEngine });
    local = Buffer.from(r.params.buffer);
  });

  afterAll(() => cluster.stop());

  it.each([1, 2, 3])('gives the trainLocal weights bit for bit with %i worker(s)', async (n) => {
    while (cluster.workers.length < n) {
      await cluster.addWorker();
      await cluster.waitForWorkers(cluster.workers.length);
    }
    const run = await submitRun(cluster.base, { ...config, name: `cnn-${n}` });
    const done = await waitForRun(cluster.base, run.id);
    expect(done.state).toBe('completed');
    expect((await modelParams(cluster.base, run.id)).equals(local)).toBe(true);
    // and it learned: 4 epochs of a tiny CNN, far above chance (0.25) on four blobs
    expect(done.test!.accuracy).toBeGreaterThanOrEqual(0.6);
  });
});

import { KeySchema } from '@nnq/protocol';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TestCluster } from '../support/cluster';
import { getJson, startApp } from '../support/processes';
import { exampleConfig, submitRun, waitForRun } from '../support/runs';

// Issue #24: a network whose memory cannot fit is refused at submission, before anything is
// allocated, and predictions are bounded the same way (libs/training/src/memory-budget.ts).

/** One hidden layer of `units` between xor's 2 inputs and 1 output. */
const wide = (units: number, extra: Record<string, unknown> = {}) => ({
  ...exampleConfig('xor.json'),
  name: `wide-${units}`,
  model: {
    inputSize: 2,
    layers: [
      { units, activation: 'relu' },
      { units: 1, activation: 'identity' },
    ],
    loss: 'sum_of_squares',
  },
  ...extra,
});

const post = async (url: string, body: unknown) => {
  const headers = { 'content-type': 'application/json' };
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as { message?: string; problems?: string[] } };
};

const WORKER_REFUSAL = new RegExp(
  String.raw`^model\.layers\[0\]\.units: a 1600-row gradient shard needs about [\d,]+ MB \(\d+ bytes: ` +
    String.raw`activations [\d,]+ MB, parameters [\d,]+ MB\) on a worker, over its budget of 2,048 MB ` +
    String.raw`\(NNQ_WORKER_MEMORY_MB\); the biggest layer is model\.layers\[0\] \(1000000 units\): ` +
    String.raw`raise shards or lower batchSize, or make it smaller$`,
);

describe('memory budgets', () => {
  const redisUrl = inject('redisUrl');
  const cluster = new TestCluster(redisUrl, 'budget');
  const files = mkdtempSync(join(tmpdir(), 'nnq-budget-'));
  // the run: batch 1600 in one shard (6.4 GB a tensor); evaluation shards as small
  const huge = wide(1_000_000, { batchSize: 1600, shards: 1, evaluation: { rowsPerShard: 1 } });

  beforeAll(async () => {
    await cluster.startCoordinator();
    await cluster.addWorker();
  });

  afterAll(async () => {
    await cluster.stop();
    rmSync(files, { recursive: true, force: true });
  });

  it('refuses a 1,000,000-unit layer at batch 1600 (400, the estimate and the budget); nothing is left', async () => {
    const { status, body } = await post(`${cluster.base}/runs`, huge);
    expect(status).toBe(400);
    expect(body.message).toBe('run exceeds the memory budget');
    expect(body.problems).toEqual([expect.stringMatching(WORKER_REFUSAL)]);
    expect(await getJson<unknown[]>(`${cluster.base}/runs`)).toEqual([]);
    const redis = new Redis(redisUrl);
    try {
      expect(await redis.smembers(new KeySchema(cluster.prefix).datasetIds())).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });

  it('refuses a sweep one of whose trials would be over the budget, by its path', async () => {
    const sweep = exampleConfig('sweep-spirals.json');
    const space = { 'model.layers[0].units': { type: 'grid', values: [16, 1_000_000] } };
    const { status, body } = await post(`${cluster.base}/sweeps`, { ...sweep, space });
    expect(status).toBe(400);
    expect(body.problems).toEqual([
      expect.stringMatching(
        new RegExp(
          String.raw`^space\["model\.layers\[0\]\.units"\]: model\.layers\[0\]\.units=1000000 gives a run over ` +
            String.raw`the memory budget: model\.layers\[0\]\.units: a 2048-row evaluation shard needs about ` +
            String.raw`[\d,]+ MB`,
        ),
      ),
    ]);
  });

  it('refuses nnq train of that config locally (exit 2), before any cluster starts', async () => {
    const file = join(files, 'huge.json');
    writeFileSync(file, JSON.stringify(huge));
    const cli = startApp('cli', { NNQ_URL: 'http://127.0.0.1:9' }, ['train', file]);
    expect(await cli.exited).toBe(2);
    expect(cli.output()).toContain(`${file}: run exceeds the memory budget:`);
    expect(cli.output()).toMatch(/model\.layers\[0\]\.units: a 1600-row gradient shard needs about [\d,]+ MB/);
  });

  it('trains the same layer a row at a time, refuses to predict 100 rows with it (400, the estimate)', async () => {
    const small = wide(1_000_000, { batchSize: 1, shards: 1, steps: 1, evaluation: { rowsPerShard: 1 } });
    const run = await submitRun(cluster.base, small);
    expect((await waitForRun(cluster.base, run.id, 120_000)).state).toBe('completed');
    const rows = (n: number) => ({ inputs: Array.from({ length: n }, () => [0, 1]) });
    const { status, body } = await post(`${cluster.base}/runs/${run.id}/predict`, rows(100));
    expect(status).toBe(400);
    expect(body.problems).toEqual([
      expect.stringMatching(
        new RegExp(
          String.raw`^inputs: 100 rows through layers up to 1000000 units wide need about 2,\d{3} MB \(\d+ ` +
            String.raw`bytes\), over the 512 MB a prediction may use: send fewer rows per request$`,
        ),
      ),
    ]);
    const ok = await post(`${cluster.base}/runs/${run.id}/predict`, rows(2));
    expect(ok.status).toBe(200);
    // nnq predict with the model file refuses the same rows in its own process: exit 2
    const model = join(files, 'wide.safetensors');
    writeFileSync(model, Buffer.from(await (await fetch(`${cluster.base}/runs/${run.id}/model`)).arrayBuffer()));
    const input = join(files, 'rows.json');
    writeFileSync(input, JSON.stringify(rows(100)));
    const cli = startApp('cli', {}, ['predict', model, input]);
    expect(await cli.exited).toBe(2);
    expect(cli.output()).toMatch(
      new RegExp(`${input}: inputs: 100 rows through layers up to 1000000 units wide need about 2,\\d{3} MB`),
    );
  });

  it("fails a run whose shard is over a worker's own smaller budget, before the worker allocates it", async () => {
    // the coordinator's budget (2048 MB) lets the run in; the only worker has 64 MB
    await cluster.kill(cluster.workers[0]);
    const small = await cluster.addWorker({ NNQ_WORKER_MEMORY_MB: '64' });
    const run = await submitRun(
      cluster.base,
      wide(1_000_000, { batchSize: 1, shards: 1, steps: 1, evaluation: { rowsPerShard: 1 } }),
    );
    const done = await waitForRun(cluster.base, run.id, 120_000);
    expect(done.state).toBe('failed');
    expect(done.error?.reason).toMatch(
      new RegExp(
        `^shard job ${run.id}-0-0 failed for good: run ${run.id}: a 1-row gradient shard needs ` +
          `about [\\d,]+ MB \\(activations \\d+ MB, parameters \\d+ MB\\), over this worker's ` +
          `NNQ_WORKER_MEMORY_MB of 64 MB$`,
      ),
    );
    expect(small.child.exitCode).toBeNull(); // the worker is alive
  });
});

import { loadDataset } from '@nnq/data';
import {
  evaluateJobId,
  gradientJobId,
  KeySchema,
  reduceJobId,
  repairJobId,
  SHARD_QUEUE,
  type EvaluateJob,
  type GradientJob,
  type ReduceJob,
} from '@nnq/protocol';
import { createTrainingEngine } from '@nnq/engine-onnx';
import { parseRunConfig, setupRun, sliceRanges, trainLocal } from '@nnq/training';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TestCluster } from '../support/cluster';
import { getJson } from '../support/processes';
import { exampleConfig, modelParams, submitRun, waitForRun } from '../support/runs';

// Issue #24: a client with write access to Redis adds jobs under a live run's future job ids with
// other row ranges. BullMQ then ignores the coordinator's own add of those ids. Workers check each
// gradient job against the run's deterministic plan and refuse the squatters for good; the
// coordinator queues the planned job again under a fresh id, and the run ends with the bytes of a
// fault-free run.

// two spirals, 4 shards of 32 rows a step, 12 steps an epoch; 2 epochs
const config = { ...exampleConfig('spirals.json'), name: 'squatted', epochs: 2 };

describe('squatted job ids', () => {
  const redisUrl = inject('redisUrl');
  // shards take >= 40 ms, so the squatters are in the queue long before the run reaches their steps
  const cluster = new TestCluster(redisUrl, 'squat', { NNQ_CHAOS_SHARD_DELAY_MS: '40' });
  const keys = new KeySchema(cluster.prefix);
  let queue: Queue;
  let faultFree: Buffer;

  beforeAll(async () => {
    const r = await trainLocal(parseRunConfig(config), { engine: createTrainingEngine });
    faultFree = Buffer.from(r.params.buffer, r.params.byteOffset, r.params.byteLength);
    queue = new Queue(SHARD_QUEUE, {
      connection: new Redis(redisUrl, { maxRetriesPerRequest: null }),
      prefix: keys.bullPrefix(),
    });
    await cluster.startCoordinator();
    await cluster.addWorker();
  });

  afterAll(async () => {
    await queue?.close();
    await cluster.stop();
  });

  it('ends with the fault-free bytes when future job ids hold other rows', async () => {
    const parsed = parseRunConfig(config);
    const { plan } = setupRun(parsed, loadDataset(parsed.dataset.source!));
    const run = await submitRun(cluster.base, config);
    /** The planned payload of step t, shard s, as the coordinator would queue it. */
    const planned = (t: number, s: number): GradientJob => ({
      kind: 'gradient',
      runId: run.id,
      step: t,
      shards: plan.shards,
      version: t,
      ...plan.shardRange(t, s),
    });
    /** Step t, shard s's job with the rows of another job. */
    const rowsOf = (t: number, s: number, r: GradientJob) => ({ ...planned(t, s), start: r.start, end: r.end });
    const squat = (t: number, s: number, data: GradientJob, id = gradientJobId(run.id, t, s)) => ({ id, data });
    const squatters = [
      // every shard of step 4 with the rows of step 0, shard 0
      ...[0, 1, 2, 3].map((s) => squat(4, s, rowsOf(4, s, planned(0, 0)))),
      // the rows of shard 2 under shard 1's id of step 6
      squat(6, 1, rowsOf(6, 1, planned(6, 2))),
      // a planned job of step 9 under step 8's id: step 8's shard 0 would never be computed
      squat(8, 0, planned(9, 0)),
      // step 13, shard 3, and the id of its first repair copy too
      squat(13, 3, { ...planned(13, 3), epoch: 0 }),
      squat(13, 3, { ...planned(13, 3), version: 12 }, repairJobId(gradientJobId(run.id, 13, 3), 1)),
    ];
    // the end of epoch 1 evaluates the 200 validation rows in one shard: half of them instead
    const half: EvaluateJob = {
      kind: 'evaluate',
      runId: run.id,
      evalId: 'validation-12',
      split: 'validation',
      shard: 0,
      version: 12,
      start: 0,
      end: 100,
    };
    const evaluation = { id: evaluateJobId(run.id, 'validation-12', 0), data: half };
    await queue.addBulk(
      [...squatters, evaluation].map((j) => ({ name: j.data.kind, data: j.data, opts: { jobId: j.id } })),
    );
    const done = await waitForRun(cluster.base, run.id, 120_000);
    expect(done.error?.reason).toBeUndefined();
    expect(done.state).toBe('completed');
    expect((await modelParams(cluster.base, run.id)).equals(faultFree)).toBe(true);
    // each squatter was refused for good by the plan check, and its planned job queued again (the
    // run's end removed the failed jobs; the coordinator's log keeps the workers' reasons)
    const log = cluster.coordinator!.output();
    // the evaluation counted all 200 rows
    const history = await getJson<Array<{ type: string; split?: string; step: number; rows?: number }>>(
      `${cluster.base}/runs/${run.id}/history`,
    );
    expect(history.filter((h) => h.type === 'evaluation' && h.split === 'validation')).toEqual([
      expect.objectContaining({ step: 12, rows: 200 }),
      expect.objectContaining({ step: 24, rows: 200 }),
    ]);
    for (const { id } of [...squatters, evaluation]) {
      const plan = `not in the run plan of run ${run.id}`;
      const refused = `job ${id}: ${plan} \\((step \\d+|evaluation validation-12), shard \\d\\): `;
      const fields = `(\\w+ is \\d+, the plan says \\d+|its id does not name run \\S+ step \\d+ shard \\d)(; |\\))`;
      const line = `job ${id} was not the run's planned job \\(${refused}(?:${fields})+; queued the planned one as `;
      expect(log, id).toMatch(new RegExp(line));
    }
    // the second copy where the first copy's id was taken too
    expect(log).toMatch(new RegExp(`queued the planned one as ${run.id}-13-3-f2`));
  }, 180_000);

  it('ends a sliced run with the fault-free bytes when a reduce id holds another learning rate', async () => {
    // 12 shards reduced in 3 slices: reduce jobs carry the step's learning rate and parameter range
    const slicedConfig = { ...config, name: 'squatted-sliced', epochs: 1, shards: 12, reduce: { slices: 3 } };
    const parsed = parseRunConfig(slicedConfig);
    const r = await trainLocal(parsed, { engine: createTrainingEngine });
    const slicedFaultFree = Buffer.from(r.params.buffer, r.params.byteOffset, r.params.byteLength);
    const { plan, paramCount } = setupRun(parsed, loadDataset(parsed.dataset.source!));
    const run = await submitRun(cluster.base, slicedConfig);
    const slice = sliceRanges(paramCount, 3)[1];
    const reduce: ReduceJob = {
      kind: 'reduce',
      runId: run.id,
      step: 5,
      slice: 1,
      start: slice.start,
      end: slice.end,
      version: 5,
      lr: 0.5,
      shards: 12,
      rows: 128,
    };
    const gradient: GradientJob = {
      kind: 'gradient',
      runId: run.id,
      step: 7,
      shards: 12,
      version: 7,
      ...plan.shardRange(7, 3),
    };
    gradient.start = 0; // the rows of step 0
    gradient.end = 10;
    await queue.addBulk([
      { name: 'reduce', data: reduce, opts: { jobId: reduceJobId(run.id, 5, 1) } },
      { name: 'gradient', data: gradient, opts: { jobId: gradientJobId(run.id, 7, 3) } },
    ]);
    const done = await waitForRun(cluster.base, run.id, 120_000);
    expect(done.error?.reason).toBeUndefined();
    expect(done.state).toBe('completed');
    expect((await modelParams(cluster.base, run.id)).equals(slicedFaultFree)).toBe(true);
    const log = cluster.coordinator!.output();
    expect(log).toMatch(
      new RegExp(
        `job ${run.id}-5-r1 was not the run's planned job \\(job ${run.id}-5-r1: not in the run ` +
          `plan of run ${run.id} \\(step 5, slice 1\\): lr is 0\\.5, the plan says [\\d.]+\\); ` +
          `queued the planned one as ${run.id}-5-r1-f1`,
      ),
    );
    expect(log).toMatch(new RegExp(`queued the planned one as ${run.id}-7-3-f1`));
  }, 180_000);
});

import { createTrainingEngine } from '@nnq/engine-onnx';
import type { SweepView } from '@nnq/protocol';
import { parseRunConfig, trainLocal } from '@nnq/training';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { TestCluster } from '../support/cluster';
import { getJson, until } from '../support/processes';
import { exampleConfig, modelParams, submitRun, waitForRun, type RunView } from '../support/runs';
import { waitForSweep } from '../support/sweeps';

// A coordinator that moves: it is SIGKILLed and the next one starts with a new, empty data
// directory (another machine, only REDIS_URL in common). Checkpoints and models live in Redis
// (NNQ_RUN_STORE=redis, the default without NNQ_DATA_DIR), so every unfinished run and sweep
// resumes from its last checkpoint and ends with the bytes of a fault-free run.
const base: Record<string, unknown> = { ...exampleConfig('spirals.json'), checkpoint: { every: 3 } };
const runConfig = { ...base, name: 'moves-run', epochs: 6 };
const LRS = [0.03, 0.01];
const sweepConfig = {
  name: 'moves-sweep',
  seed: 5,
  base: { ...base, epochs: 4 },
  space: { 'optimizer.lr': { type: 'grid', values: LRS } },
  method: { type: 'grid' },
  objective: { metric: 'accuracy', split: 'validation', mode: 'max' },
  budget: { maxTrials: LRS.length, maxConcurrent: 2 },
  scheduler: { type: 'none' },
};
/** Trial k's run config, as the sweep builds it (libs/sweeps trialConfig): the base at its point, named. */
const trialConfig = (k: number, lr: number) => ({
  ...sweepConfig.base,
  optimizer: { ...(base.optimizer as object), lr },
  name: `moves-sweep-t${k}`,
});

async function faultFree(config: unknown): Promise<Buffer> {
  const r = await trainLocal(parseRunConfig(config), { engine: createTrainingEngine });
  return Buffer.from(r.params.buffer, r.params.byteOffset, r.params.byteLength);
}

/** Series labelled with a run in the coordinator's /metrics (comments aside). */
async function runSeries(baseUrl: string): Promise<string[]> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  return text.split('\n').filter((l) => !l.startsWith('#') && l.includes('run="'));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a coordinator that moves', () => {
  const dirs: string[] = [];
  const freshDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'nnq-moved-'));
    dirs.push(d);
    return d;
  };
  const cluster = new TestCluster(inject('redisUrl'), 'moves', {
    NNQ_RUN_STORE: 'redis',
    NNQ_CHAOS_SHARD_DELAY_MS: '20',
    NNQ_METRICS_LINGER_SECONDS: '0', // the series count after the sweep: a finished trial's go at once
  });
  afterAll(async () => {
    await cluster.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('resumes a run and a sweep from Redis after SIGKILLs, each successor on a new empty data dir', async () => {
    const expected = await faultFree(runConfig);
    await cluster.startCoordinator({ NNQ_DATA_DIR: freshDir() });
    await cluster.addWorker();
    await cluster.addWorker();
    await cluster.waitForWorkers(2);
    expect(await runSeries(cluster.base)).toEqual([]);

    const run = await submitRun(cluster.base, runConfig);
    const res = await fetch(`${cluster.base}/sweeps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(sweepConfig),
    });
    expect(res.status).toBe(201);
    const sweep = (await res.json()) as SweepView;

    const step = async () => (await getJson<RunView>(`${cluster.base}/runs/${run.id}`)).step;
    // past the first checkpoint (step 3), so the kills land on a run that has one to resume from
    await until(async () => (await step()) >= 4, 90_000, 'the run past its first checkpoint');
    expect((await runSeries(cluster.base)).length).toBeGreaterThan(0);
    let kills = 0;
    const resumedAt: number[] = [];
    while (kills < 4) {
      const at = await step();
      if (at >= 66) break;
      await until(async () => (await step()) >= at + 2, 90_000, 'progress');
      await sleep(Math.floor(Math.random() * 150));
      await cluster.kill(cluster.coordinator!);
      kills++;
      // another machine: nothing of the last coordinator's disk, only Redis
      await cluster.startCoordinator({ NNQ_DATA_DIR: freshDir() });
      // from a checkpoint the new coordinator found in Redis, not from step 0
      const resumed = new RegExp(String.raw`\[Run ${run.id}\] resuming from the checkpoint of step (\d+)`);
      resumedAt.push(Number((await cluster.coordinator!.waitFor(resumed, 60_000))[1]));
    }
    expect(kills).toBe(4);
    expect(resumedAt.every((s) => s >= 3 && s % 3 === 0)).toBe(true);

    const done = await waitForRun(cluster.base, run.id, 240_000);
    expect([done.state, done.error]).toEqual(['completed', undefined]);
    expect((await modelParams(cluster.base, run.id)).equals(expected)).toBe(true);
    const ended = await waitForSweep<SweepView>(cluster.base, sweep.id, 240_000);
    expect(ended.state).toBe('completed');
    expect(ended.trials.map((t) => [t.index, t.state])).toEqual([
      [0, 'completed'],
      [1, 'completed'],
    ]);
    expect(ended.trials.map((t) => t.params['optimizer.lr']).sort()).toEqual([...LRS].sort());
    for (const t of ended.trials) {
      const trial = await faultFree(trialConfig(t.index, t.params['optimizer.lr'] as number));
      expect((await modelParams(cluster.base, t.runId!)).equals(trial), `trial ${t.index}`).toBe(true);
    }

    // nothing went to disk, and no run-labelled series outlives its run
    for (const d of dirs) expect(existsSync(join(d, 'runs')) ? readdirSync(join(d, 'runs')) : []).toEqual([]);
    expect(await runSeries(cluster.base)).toEqual([]);
  }, 600_000);
});

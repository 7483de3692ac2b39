import { readModel } from '@nnq/nn';
import type { SweepTrial, SweepView } from '@nnq/protocol';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TestCluster } from './support/cluster';
import { getJson, until } from './support/processes';
import { exampleConfig } from './support/runs';
import { waitForSweep } from './support/sweeps';
import { CHROMIUM, hasTool } from './support/tools';
import { startWithWorkers } from './support/worker-pool';

/** A sweep and a trial as the coordinator answers them: the HTTP contract's (@nnq/protocol). */
type Sweep = SweepView;
type Trial = SweepTrial;

async function post<T>(url: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  });
  return { status: res.status, body: (await res.json()) as T };
}

const hasChromium = hasTool('chromium', "test/sweeps.e2e.ts's dashboard test");

// examples/sweep-spirals.json: a grid over optimizer.lr x model.layers[0].units on two spirals,
// 12 epochs, ASHA (rungs at epochs 2 and 6, eta 3), 6 trials, at most 2 at once on 2 workers.
describe('hyperparameter sweeps on the shared worker pool', () => {
  const cluster = new TestCluster(inject('redisUrl'), 'sweeps');
  let sweepId = '';

  beforeAll(async () => {
    await startWithWorkers(cluster, 2);
  });

  afterAll(() => cluster.stop());

  it('finds a config with 0.9 validation accuracy, stops trials early, survives a coordinator SIGKILL', async () => {
    const config = exampleConfig('sweep-spirals.json');
    const { status, body: sweep } = await post<Sweep>(`${cluster.base}/sweeps`, config);
    expect(status).toBe(201);
    expect(sweep.planned).toBe(6);
    sweepId = sweep.id;
    const maxRunning = { n: 0 };
    // mid-way: two trials started and one has trained a while
    await until(
      async () => {
        const s = await getJson<Sweep>(`${cluster.base}/sweeps/${sweep.id}`);
        const running = s.trials.filter((t) => t.state === 'running' || t.state === 'queued').length;
        maxRunning.n = Math.max(maxRunning.n, running);
        return s.trials.length >= 2 && s.trials.some((t) => t.step >= 10);
      },
      60_000,
      'the sweep to get going',
    );
    await cluster.kill(cluster.coordinator!);
    await cluster.startCoordinator();
    await cluster.coordinator!.waitFor(new RegExp(`continuing sweep ${sweep.id} \\(spirals-sweep\\)`));
    const done = await until(
      async () => {
        const s = await getJson<Sweep>(`${cluster.base}/sweeps/${sweep.id}`);
        const running = s.trials.filter((t) => t.state === 'running' || t.state === 'queued').length;
        maxRunning.n = Math.max(maxRunning.n, running);
        return s.state !== 'running' && s;
      },
      150_000,
      'the sweep to end',
    );
    expect(done.state).toBe('completed');
    expect(maxRunning.n).toBeLessThanOrEqual(2);
    // every trial once: the grid's 6 points, each one run (none lost or duplicated by the restart)
    expect(done.trials.map((t) => t.index)).toEqual([0, 1, 2, 3, 4, 5]);
    const points = done.trials.map((t) => `${t.params['optimizer.lr']}/${t.params['model.layers[0].units']}`);
    expect(new Set(points).size).toBe(6);
    const runs = await getJson<Array<{ id: string; name: string }>>(`${cluster.base}/runs`);
    const trialRuns = runs.filter((r) => r.name.startsWith('spirals-sweep-t'));
    expect(trialRuns.map((r) => r.id).sort()).toEqual(done.trials.map((t) => t.runId).sort());
    // the leaderboard: sorted by the objective, the best reaches the target
    const bests = done.leaderboard.filter((t) => t.best !== undefined).map((t) => t.best!);
    expect(bests).toEqual([...bests].sort((a, b) => b - a));
    expect(done.best!.value).toBeGreaterThanOrEqual(0.9);
    expect(done.leaderboard[0].state).toBe('completed');
    // early-stopped trials used fewer steps than completed ones
    const stopped = done.trials.filter((t) => t.state === 'stopped');
    const completed = done.trials.filter((t) => t.state === 'completed');
    expect(stopped.length).toBeGreaterThan(0);
    expect(completed.length).toBeGreaterThan(0);
    const fewest = Math.min(...completed.map((t) => t.step));
    for (const t of stopped) {
      expect(t.step).toBeLessThan(fewest);
      expect(t.stopReason).toMatch(/^ASHA rung at epoch (2|6): not in the top \d+ of \d+$/);
      const run = await getJson<{ state: string }>(`${cluster.base}/runs/${t.runId}`);
      expect(run.state).toBe('cancelled');
    }
    // exports and the best model
    const csv = await (await fetch(`${cluster.base}/sweeps/${sweep.id}/results.csv`)).text();
    const lines = csv.trim().split('\r\n');
    expect(lines[0]).toBe(
      'rank,trial,name,run,state,optimizer.lr,model.layers[0].units,' +
        'best_validation_accuracy,step,total_steps,epoch,stop_reason,error',
    );
    expect(lines).toHaveLength(7);
    expect(lines[1]).toMatch(new RegExp(`^1,${done.best!.index},spirals-sweep-t${done.best!.index},`));
    const json = await getJson<{ trials: unknown[] }>(`${cluster.base}/sweeps/${sweep.id}/results.json`);
    expect(json.trials).toHaveLength(6);
    const model = await fetch(`${cluster.base}/sweeps/${sweep.id}/model`);
    expect(model.status).toBe(200);
    const m = readModel(new Uint8Array(await model.arrayBuffer()));
    expect(m.spec.layers[0]).toMatchObject({ units: done.leaderboard[0].params['model.layers[0].units'] });
    const list = await getJson<Array<{ id: string; state: string }>>(`${cluster.base}/sweeps`);
    expect(list).toEqual(expect.arrayContaining([expect.objectContaining({ id: sweep.id, state: 'completed' })]));
  }, 300_000);

  it('refuses a bad sweep config by path, 404s an unknown sweep, and cancels a sweep with its trials', async () => {
    const config = exampleConfig('sweep-spirals.json');
    const bad = await post<{ problems: string[] }>(`${cluster.base}/sweeps`, {
      ...config,
      space: { 'optimizer.lrate': { type: 'grid', values: [0.1, 1] } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.problems).toEqual(['space["optimizer.lrate"]: optimizer.lrate does not exist in the base config']);
    expect((await fetch(`${cluster.base}/sweeps/0123456789ab`)).status).toBe(404);
    expect((await fetch(`${cluster.base}/sweeps/not:an:id/model`)).status).toBe(404);

    const long = {
      ...config,
      name: 'to-cancel',
      base: { ...(config.base as object), epochs: 500 },
      scheduler: { type: 'none' },
    };
    const { body: sweep } = await post<Sweep>(`${cluster.base}/sweeps`, long);
    await until(
      async () => (await getJson<Sweep>(`${cluster.base}/sweeps/${sweep.id}`)).trials.some((t) => t.step > 2),
      30_000,
      'a trial to train',
    );
    const cancelled = await post<Sweep>(`${cluster.base}/sweeps/${sweep.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.state).toBe('cancelled');
    expect(cancelled.body.trials.every((t) => t.state === 'cancelled')).toBe(true);
    for (const t of cancelled.body.trials) {
      expect((await getJson<{ state: string }>(`${cluster.base}/runs/${t.runId}`)).state).toBe('cancelled');
    }
  });

  it('records a trial the coordinator refuses as failed and goes on', async () => {
    const config = exampleConfig('sweep-spirals.json');
    const { body: sweep } = await post<Sweep>(`${cluster.base}/sweeps`, {
      ...config,
      name: 'with-a-misfit',
      base: { ...(config.base as object), epochs: 1 },
      space: { 'model.inputSize': { type: 'grid', values: [3, 2] } },
      budget: { maxTrials: 2, maxConcurrent: 1 },
      scheduler: { type: 'none' },
    });
    const done = await waitForSweep<Sweep>(cluster.base, sweep.id, 60_000);
    expect(done.state).toBe('completed');
    expect(done.trials.map((t) => t.state)).toEqual(['failed', 'completed']);
    expect((done.trials[0] as Trial & { error: string }).error).toMatch(
      /model\.inputSize: is 3, the dataset has 2 features per row/,
    );
    expect(done.best!.index).toBe(1);
  });

  it.skipIf(!hasChromium)('shows the sweep on the dashboard: leaderboard and parallel coordinates', async () => {
    expect(sweepId).not.toBe('');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
      await page.goto(`${cluster.base}/`);
      const card = page.locator(`.sweep[data-sweep-id="${sweepId}"]`);
      await card.waitFor({ timeout: 15_000 });
      expect(await card.locator('table.leaderboard tbody tr').count()).toBe(6);
      expect(await card.locator('svg.parallel polyline.trial').count()).toBe(6);
      expect(await card.locator('svg.parallel g.axis').count()).toBe(3);
      expect(await page.locator('#no-sweeps').isHidden()).toBe(true);
      const artifacts = resolve(__dirname, '..', 'test-artifacts');
      mkdirSync(artifacts, { recursive: true });
      await page.waitForTimeout(300);
      await page.locator('#sweeps-section').screenshot({ path: resolve(artifacts, 'sweeps-dashboard.png') });
    } finally {
      await browser.close();
    }
  });
});

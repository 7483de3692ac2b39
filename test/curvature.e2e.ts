import { createTrainingEngine } from '@nnq/engine-onnx';
import { HistorySchema, parseAnswer, type HistoryEntry } from '@nnq/protocol';
import { parseRunConfig, trainLocal } from '@nnq/training';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TestCluster } from './support/cluster';
import { ARTIFACTS, dashboardHarness } from './support/dashboard';
import { getJson } from './support/processes';
import { exampleConfig, modelParams, submitRun, waitForRun } from './support/runs';
import { hasTool } from './support/tools';
import { startWithWorkers } from './support/worker-pool';

const hasChromium = hasTool('chromium', 'test/curvature.e2e.ts');

/** Two spirals (examples/spirals.json's network) for 240 steps, evaluated every 20, with evaluation.curvature. */
const config = (name: string) => ({
  ...exampleConfig('spirals.json'),
  name,
  epochs: undefined,
  steps: 240,
  evaluation: { every: 20, curvature: { iterations: 8, probes: 4, rows: 128 } },
});

type Curvature = { step: number; split: string; top?: number; trace?: number };

/** The curvature numbers of a run's evaluations, in order. */
const curvatureOf = (evals: Array<Omit<Extract<HistoryEntry, { type: 'evaluation' }>, 'type'>>): Curvature[] =>
  evals.map((e) => ({ step: e.step, split: e.split, top: e.hessianTopEigenvalue, trace: e.hessianTrace }));

/** `nnq_hessian_*{run="<id>"}` lines of a /metrics page. */
const gauges = (text: string, id: string) =>
  text.split('\n').filter((l) => /^nnq_hessian_(top_eigenvalue|trace)\{/.test(l) && l.includes(`run="${id}"`));

// Curvature as a signal (#20): at each evaluation the Hessian's top eigenvalue and trace estimate
// of the training loss, the same numbers in-process and on the cluster.
describe('evaluation.curvature on a cluster of 2 workers', () => {
  // a finished run's series go at once (not after NNQ_METRICS_LINGER_SECONDS), as the gauges' test below checks
  const cluster = new TestCluster(inject('redisUrl'), 'curvature', { NNQ_METRICS_LINGER_SECONDS: '0' });
  let local: Awaited<ReturnType<typeof trainLocal>>;

  beforeAll(async () => {
    await startWithWorkers(cluster, 2);
    local = await trainLocal(parseRunConfig(config('curvature-local')), { engine: createTrainingEngine });
  });

  afterAll(() => cluster.stop());

  it("records finite numbers in the history equal to the in-process run's; the gauges live while it runs", async () => {
    const { base } = cluster;
    const run = await submitRun(base, config('curvature'));
    // the gauges appear at the first evaluation (step 20) and stay while the run trains
    let seen: string[] = [];
    let runningWhenSeen = false;
    while (seen.length < 2) {
      const text = await (await fetch(`${base}/metrics`)).text();
      const state = (await getJson<{ state: string }>(`${base}/runs/${run.id}`)).state;
      seen = gauges(text, run.id);
      runningWhenSeen = state === 'running';
      if (state !== 'running' && state !== 'queued') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen).toHaveLength(2);
    expect(runningWhenSeen).toBe(true);
    for (const line of seen) expect(Number.isFinite(Number(line.split(' ').at(-1)))).toBe(true);

    const ended = await waitForRun(base, run.id, 300_000);
    expect(ended.state).toBe('completed');
    // the same weights as in-process (the invariant), so the same curvature numbers, bit for bit
    expect((await modelParams(base, run.id)).equals(Buffer.from(local.params.buffer))).toBe(true);
    const history = parseAnswer(HistorySchema, await getJson(`${base}/runs/${run.id}/history`), 'history');
    const evals = history.filter((h) => h.type === 'evaluation');
    const onCluster = curvatureOf(evals);
    expect(onCluster).toEqual(curvatureOf(local.evaluations));
    // on the first evaluation of each of the 12 evaluated steps (validation; the last step's test has none)
    const withNumbers = onCluster.filter((c) => c.top !== undefined);
    expect(withNumbers.map((c) => [c.step, c.split])).toEqual(
      Array.from({ length: 12 }, (_, k) => [20 * (k + 1), 'validation']),
    );
    for (const c of withNumbers) expect(Number.isFinite(c.top) && Number.isFinite(c.trace)).toBe(true);
    expect(onCluster.at(-1)).toEqual({ step: 240, split: 'test', top: undefined, trace: undefined });
    // the run's end removed its series
    expect(gauges(await (await fetch(`${base}/metrics`)).text(), run.id)).toEqual([]);
  });

  it('gives the same numbers with the sliced and replicated step strategies', async () => {
    // their parameters are pulled from the workers' side (reducers' slices, a replica)
    const { base } = cluster;
    const strategies = [
      { strategy: 'sliced', slices: 2 },
      { strategy: 'replicated', slices: 1 },
    ];
    const runs = await Promise.all(
      strategies.map((reduce) => submitRun(base, { ...config(`curvature-${reduce.strategy}`), reduce })),
    );
    for (const run of runs) {
      expect((await waitForRun(base, run.id, 300_000)).state).toBe('completed');
      const history = parseAnswer(HistorySchema, await getJson(`${base}/runs/${run.id}/history`), 'history');
      expect(curvatureOf(history.filter((h) => h.type === 'evaluation'))).toEqual(curvatureOf(local.evaluations));
    }
  });

  it("POST /runs refuses products past an evaluation's work with a 400 naming the field", async () => {
    // 64-64 tanh on two spirals: 2*64 + 64*64 + 64*2 = 4,352 multiply-adds per row
    const curvature = { rows: 2048, iterations: 64, probes: 64 };
    const res = await fetch(`${cluster.base}/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...config('curvature-big'), evaluation: { curvature } }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { problems: string[] }).problems).toEqual([
      'evaluation.curvature: (iterations + probes) x rows x multiply-adds per row = 128 x 2048 x 4352 is past ' +
        'the 268435456 of one evaluation: fewer products or rows',
    ]);
  });
});

describe.skipIf(!hasChromium)('the dashboard draws the curvature chart', () => {
  const h = dashboardHarness('curvature-dashboard', 1);

  it('a card shows the top eigenvalue and trace at each evaluation', async () => {
    const page = await h.openDashboard();
    const run = await h.post('/runs', { ...config('curvature-chart'), steps: 60 });
    const ended = await waitForRun(h.base, run.id, 300_000);
    expect(ended.state).toBe('completed');
    const row = page.locator(`#runs tr[data-run-id="${run.id}"]`);
    await page.locator('#run-filter').fill('curvature-chart');
    await row.waitFor({ timeout: 10_000 });
    // the page has seen the end (a running run's card opens by itself and closes at its end)
    await row.locator('.state[data-state="completed"]').waitFor({ timeout: 10_000 });
    // data-open="" marks an open card (one that is still open from its running time stays so)
    if ((await row.getAttribute('data-open')) === null) await row.click();
    const card = page.locator(`.run-card[data-run-id="${run.id}"]`);
    await card.locator('.chart-curvature canvas').first().waitFor({ timeout: 10_000 });
    // steps 20, 40 and 60
    await expect.poll(() => card.locator('.chart-curvature').getAttribute('data-points')).toBe('3');
    mkdirSync(ARTIFACTS, { recursive: true });
    await card.locator('.chart-curvature').screenshot({ path: join(ARTIFACTS, 'dashboard-curvature.png') });
    await page.close();
  });
});

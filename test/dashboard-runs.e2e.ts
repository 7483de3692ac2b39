import { KeySchema, type HistoryEntry } from '@nnq/protocol';
import { Redis } from 'ioredis';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ARTIFACTS, dashboardHarness, type DashboardWin } from './support/dashboard';
import { getJson, startApp } from './support/processes';
import { exampleConfig, waitForRun, type RunView } from './support/runs';
import { hasTool } from './support/tools';

const hasChromium = hasTool('chromium', 'test/dashboard-runs.e2e.ts');

/** Runs the many-runs test puts in Redis: finished runs, as a coordinator leaves them. */
const SEEDED = 500;

// The dashboard's runs as a person reads them: epochs counted from 1, test figures, a 1-D
// regression's fit, and hundreds of runs folded, filtered and opened on demand.
describe.skipIf(!hasChromium)('the dashboard runs table and run cards', () => {
  const h = dashboardHarness('dashboard-runs');
  const { redisUrl, prefix, auth, openDashboard, post } = h;

  it('1-D regression: epoch 10/10 when done, test loss, model summary, prediction against the target', async () => {
    const page = await openDashboard();
    // examples/lecture/sine.json: y = sin(x) on [-pi, pi], 1-16-1 tanh, 10 epochs
    const config = exampleConfig('lecture/sine.json');
    const run = await post('/runs', config);
    const ended = await waitForRun(h.base, run.id, 120_000);
    expect(ended.state).toBe('completed');
    // the model summary, by hand: 1 -> 16 tanh (1*16 + 16) -> 1 (16 + 1)
    const summary = [
      { index: 0, kind: 'input', outputShape: [1], params: 0 },
      { index: 1, kind: 'dense', outputShape: [16], params: 32 },
      { index: 2, kind: 'dense', outputShape: [1], params: 17 },
    ];
    expect(ended.model).toEqual(summary);
    expect(ended.paramCount).toBe(49);
    // nnq status <id> shows it too
    const status = startApp('cli', { NNQ_URL: h.base }, ['status', run.id]);
    expect(await status.exited, status.output()).toBe(0);
    const rows = ['LAYER +KIND +OUTPUT SHAPE +PARAMETERS', 'input +input +\\[1\\] +0', '1 +dense +\\[16\\] +32'];
    rows.push('2 +dense +\\[1\\] +17', 'total +49');
    expect(status.output()).toMatch(new RegExp(`^model {5}${rows.join('\\n {10}')}$`, 'm'));

    // the coordinator drew the fit at every evaluation: on the first entry of each (validation here)
    const history = await getJson<HistoryEntry[]>(`${h.base}/runs/${run.id}/history`);
    const evals = history.filter((h) => h.type === 'evaluation');
    const curves = evals.filter((e) => e.curve);
    expect(curves.map((e) => e.step)).toEqual(evals.filter((e) => e.split === 'validation').map((e) => e.step));
    expect(curves).toHaveLength(10); // one evaluation per epoch
    const last = curves.at(-1)!;
    expect(last.step).toBe(ended.totalSteps);
    const { x, target, prediction } = last.curve!;
    expect(x).toHaveLength(120); // every row of a set smaller than the 200-point grid, by x
    expect([...x].sort((a, b) => a - b)).toEqual(x);
    // y = sin(x) without noise: the targets are the function itself
    x.forEach((v, i) => expect(Math.abs(target[i] - Math.sin(v))).toBeLessThan(1e-6));
    // the final curve is the model's prediction: the same numbers as POST /runs/:id/predict
    const res = await fetch(`${h.base}/runs/${run.id}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({ inputs: x.map((v) => [v]) }),
    });
    expect(((await res.json()) as { outputs: number[][] }).outputs.map((o) => o[0])).toEqual(prediction);

    // the page: epochs as a person counts them, the test split's figures, and the fit chart on a click
    const row = page.locator(`#runs tr[data-run-id="${run.id}"]`);
    await page.locator('#run-filter').fill('sine-fit');
    await row.waitFor({ timeout: 10_000 });
    await row.locator('.state[data-state="completed"]').waitFor({ timeout: 10_000 });
    expect(await row.locator('.progress-text').textContent()).toBe(
      `${ended.totalSteps}/${ended.totalSteps} · epoch 10/10`,
    );
    expect(await row.locator('td.test').getAttribute('title')).toMatch(
      new RegExp(`^test loss [\\d.e+-]+ at step ${ended.totalSteps}$`),
    );
    if (!(await row.getAttribute('data-open'))) await row.click();
    const card = page.locator(`.run-card[data-run-id="${run.id}"]`);
    await card.locator('.chart-fit canvas').first().waitFor({ timeout: 10_000 });
    expect(await card.getAttribute('data-fit-step')).toBe(String(ended.totalSteps));
    expect(await card.locator('.chart-fit').getAttribute('data-points')).toBe('120');
    // a regression: losses, no accuracy (always 0) and no accuracy chart
    expect(await card.locator('.metrics').textContent()).toMatch(/validation loss [\d.e+-]+ · test loss [\d.e+-]+/);
    expect(await card.locator('.chart-accuracy canvas').count()).toBe(0);
    const cells = await card
      .locator('table.summary tbody tr')
      .evaluateAll((rows) =>
        rows.map((tr) =>
          Array.from((tr as unknown as { cells: { textContent: string }[] }).cells, (td) => td.textContent),
        ),
      );
    expect(cells).toEqual([
      ['input', 'input', '[1]', '0'],
      ['1', 'dense', '[16]', '32'],
      ['2', 'dense', '[1]', '17'],
    ]);
    expect(await card.locator('table.summary tfoot').textContent()).toBe('total49');
    mkdirSync(ARTIFACTS, { recursive: true });
    await card.screenshot({ path: join(ARTIFACTS, 'dashboard-fit.png') });
    await page.close();
  });

  it(`${SEEDED} runs: finished ones fold, a filter finds them, curves open on demand`, async () => {
    // finished runs as a coordinator leaves them: a record and a short history each
    const keys = new KeySchema(prefix);
    const redis = new Redis(redisUrl);
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const ids: string[] = [];
    try {
      const m = redis.multi();
      for (let i = 0; i < SEEDED; i++) {
        const id = `seeded${String(i).padStart(4, '0')}`;
        ids.push(id);
        const createdAt = new Date(t0 + i * 1000).toISOString();
        const record: RunView = {
          id,
          name: `seeded-${String(i).padStart(4, '0')}`,
          state: i % 10 === 0 ? 'failed' : 'completed',
          createdAt,
          startedAt: createdAt,
          finishedAt: createdAt,
          step: 50,
          totalSteps: 50,
          epoch: 9,
          epochs: 10,
          batchSize: 32,
          shards: 2,
          datasetId: 'seeded',
          paramCount: 3,
          loss: 0.5,
          accuracy: 0.75,
          test: { split: 'test', step: 50, loss: 0.4, accuracy: 0.8, rows: 100 },
          skippedSteps: 0,
        };
        m.set(keys.runState(id), JSON.stringify(record)).zadd(keys.runs(), Date.parse(createdAt), id);
        const steps = [10, 20, 30, 40, 50].map((step) => ({
          type: 'step',
          step,
          epoch: step / 5 - 1,
          loss: 1 / step,
          accuracy: 0.5,
          lr: 0.1,
          gradNorm: 1,
          seconds: 0.01,
        }));
        m.rpush(keys.runHistory(id), ...steps.map((e) => JSON.stringify(e)));
      }
      await m.exec();
    } finally {
      redis.disconnect();
    }

    const page = await h.browser!.newPage({ viewport: { width: 1400, height: 1000 } });
    const started = Date.now();
    await page.goto(`${h.base}/`);
    await page.waitForFunction(
      (n) => Object.keys((globalThis as unknown as DashboardWin).nnqDashboard.runs).length >= n,
      SEEDED,
      { timeout: 20_000 },
    );
    const wall = Date.now() - started;
    const firstRender = await page.evaluate(() => (globalThis as unknown as DashboardWin).nnqDashboard.firstRenderMs);
    console.log(`dashboard with ${SEEDED} runs: first render ${firstRender} ms after navigation (${wall} ms wall)`);
    expect(firstRender).not.toBeNull();

    // folded: no finished run has a row, one line says how many there are
    expect(await page.locator('#runs tbody tr[data-run-id^="seeded"]').count()).toBe(0);
    expect(await page.locator('#toggle-finished').textContent()).toMatch(/^▸ \d+ finished runs$/);
    // unfolded: a page of them, and a way to the rest
    await page.locator('#toggle-finished').click();
    expect(await page.locator('#runs tbody tr[data-run-id]').count()).toBe(100);
    await page.locator('#more-finished').waitFor();
    await page.locator('#toggle-finished').click();

    // a filter by name, and one by state
    await page.locator('#run-filter').fill('seeded-0042');
    await page.waitForFunction(() => (globalThis as unknown as DashboardWin).nnqDashboard.rows === 1);
    await page.locator('#run-filter').fill('');
    await page.locator('#run-state').selectOption('failed');
    await page.waitForFunction((n) => (globalThis as unknown as DashboardWin).nnqDashboard.rows === n, SEEDED / 10, {
      timeout: 5_000,
    });
    const failed = await page.$$eval('#runs tbody tr[data-run-id] .state', (els) => els.map((e) => e.textContent));
    expect(failed).toEqual(Array(SEEDED / 10).fill('failed'));

    // no card until asked for; a click opens it and loads its history (GET /runs/:id/history)
    const id = ids[40];
    expect(await page.locator(`.run-card[data-run-id="${id}"]`).count()).toBe(0);
    const row = page.locator(`#runs tr[data-run-id="${id}"]`);
    expect(await row.locator('.progress-text').textContent()).toBe('50/50 · epoch 10/10');
    expect(await row.locator('td.test').textContent()).toBe('80.0%'); // a classification's test accuracy
    await row.click();
    await page.waitForFunction(
      (runId) => (globalThis as unknown as DashboardWin).nnqDashboard.runs[runId].points === 5,
      id,
      {
        timeout: 10_000,
      },
    );
    await page.locator(`.run-card[data-run-id="${id}"] .chart-loss canvas`).first().waitFor();
    await row.click();
    await page.locator(`.run-card[data-run-id="${id}"]`).waitFor({ state: 'detached' });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-many-runs.png') });
    await page.close();
  });
});

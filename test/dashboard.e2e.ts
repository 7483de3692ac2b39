import { KeySchema, SHARD_QUEUE } from '@nnq/protocol';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { ARTIFACTS, dashboardHarness, type DashboardWin } from './support/dashboard';
import { getJson, until } from './support/processes';
import { exampleConfig, waitForRun } from './support/runs';
import { hasTool } from './support/tools';

const hasChromium = hasTool('chromium', 'test/dashboard.e2e.ts');

// The page a person watches training on: runs, live curves over server-sent events, workers, queue.
describe.skipIf(!hasChromium)('the coordinator dashboard in a browser', () => {
  const h = dashboardHarness('dashboard');
  const { redisUrl, prefix, token, auth, openDashboard, post } = h;

  /** Points in the run's loss chart, as the page reports them. */
  const points = (page: Page, id: string) =>
    page.$eval(`.run-card[data-run-id="${id}"] .chart-loss`, (el) =>
      Number((el as unknown as { dataset: Record<string, string> }).dataset.points),
    );

  it('shows a submitted run, its loss curve growing live, the workers and the queue', async () => {
    const page = await openDashboard();
    // the workers table fills from the feed's first message, which may come just after "live"
    await page.waitForSelector('#workers tbody tr', { state: 'attached', timeout: 10_000 });
    expect(await page.$$eval('#workers tbody tr', (rows) => rows.length)).toBe(2);
    // markup in a name must come out as the same text: the page never parses data as HTML
    const name = 'spirals &lt;b&gt;e2e&lt;/b&gt; & "quoted"';
    const run = await post('/runs', { ...exampleConfig('spirals.json'), name, epochs: 40 });

    const row = page.locator(`#runs tr[data-run-id="${run.id}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.locator('td.name').evaluate((td) => td.firstChild?.textContent)).toBe(name);
    expect(await page.locator('#runs b').count()).toBe(0);

    await page.waitForFunction(
      (id) => (globalThis as unknown as DashboardWin).nnqDashboard.runs[id]?.points > 0,
      run.id,
      {
        timeout: 20_000,
      },
    );
    const first = await points(page, run.id);
    await page.waitForFunction(
      ([id, n]) => (globalThis as unknown as DashboardWin).nnqDashboard.runs[id].points > n,
      [run.id, first] as const,
      {
        timeout: 15_000,
      },
    );
    const later = await points(page, run.id);
    expect(later).toBeGreaterThan(first);
    expect(await page.locator(`.run-card[data-run-id="${run.id}"] canvas`).count()).toBeGreaterThanOrEqual(2);
    expect(await page.locator('#queue .tile').count()).toBe(6);
    // the sweep work fills this section; nothing is faked until then
    expect(await page.locator('#sweeps').evaluate((el) => el.childElementCount)).toBe(0);

    // a page that connects late first gets the whole history so far
    const steps = (await getJson<{ type: string }[]>(`${h.base}/runs/${run.id}/history`)).filter(
      (h) => h.type === 'step',
    ).length;
    const late = await openDashboard();
    await late.waitForFunction(
      ([id, n]) => (globalThis as unknown as DashboardWin).nnqDashboard.runs[id]?.points >= n,
      [run.id, steps] as const,
      {
        timeout: 10_000,
      },
    );

    // a screenshot with some curve to look at (the CI keeps test-artifacts/)
    await page
      .waitForFunction((id) => (globalThis as unknown as DashboardWin).nnqDashboard.runs[id].points >= 120, run.id, {
        timeout: 8_000,
      })
      .catch(() => undefined);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });

    // state changes reach the page too
    await post(`/runs/${run.id}/cancel`).catch(() => undefined);
    const ended = await waitForRun(h.base, run.id, 120_000);
    // a finished run folds away from the table; the filter finds it, in its new state
    await row.waitFor({ state: 'detached', timeout: 5_000 });
    await page.locator('#run-filter').fill(run.id);
    await row.locator(`.state[data-state="${ended.state}"]`).waitFor({ timeout: 5_000 });
    await Promise.all([page.close(), late.close()]);
  });

  it('serves uPlot from node_modules and refuses unknown files', async () => {
    const js = await fetch(`${h.base}/dashboard/uPlot.iife.min.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await js.text()).toMatch(/uPlot/);
    expect((await fetch(`${h.base}/dashboard/uPlot.min.css`)).status).toBe(200);
    expect((await fetch(`${h.base}/dashboard/package.json`)).status).toBe(404);
    expect((await fetch(`${h.base}/dashboard/..%2F..%2Fpackage.json`)).status).toBe(404);
  });

  it('puts bull-board at /queues behind NNQ_API_TOKEN: bearer header, or ?token= once for a cookie', async () => {
    const open = await fetch(`${h.base}/queues`);
    expect(open.status).toBe(401);
    expect(await open.text()).toMatch(/needs NNQ_API_TOKEN.*\?token=/);
    expect((await fetch(`${h.base}/queues?token=wrong-token`)).status).toBe(401);
    expect((await fetch(`${h.base}/queues`, { headers: auth })).status).toBe(200);

    const login = await fetch(`${h.base}/queues?token=${token}`, { redirect: 'manual' });
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/queues');
    const cookie = login.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).not.toContain(token);
    const session = { cookie: cookie.split(';')[0] };
    expect((await fetch(`${h.base}/queues`, { headers: session })).status).toBe(200);
    const api = await fetch(`${h.base}/queues/api/queues`, { headers: session });
    expect(api.status).toBe(200);
    expect(JSON.stringify(await api.json())).toContain('shards');
    expect((await fetch(`${h.base}/queues/api/queues`, { headers: { cookie: 'nnq_queues=forged' } })).status).toBe(401);
  });
  it("bull-board's own page retries jobs with the token's cookie; a page of another origin cannot", async () => {
    // a job the worker fails for good (no run behind it), so that bull-board has something to retry
    const queue = new Queue(SHARD_QUEUE, {
      connection: new Redis(redisUrl, { maxRetriesPerRequest: null }),
      prefix: new KeySchema(prefix).bullPrefix(),
    });
    const jobId = 'dashboard-forged';
    let elsewhere: Server | undefined;
    const finishedOn = async () => {
      const job = await queue.getJob(jobId);
      return (await job?.getState()) === 'failed' ? job!.finishedOn : undefined;
    };
    try {
      await queue.add('gradient', { kind: 'gradient', runId: 'no-such-run' }, { jobId });
      const failedAt = await until(finishedOn, 20_000, 'the forged job to fail');

      const page = await h.browser!.newPage();
      await page.goto(`${h.base}/queues?token=${token}`);
      await page.goto(`${h.base}/queues/queue/${SHARD_QUEUE}?status=failed`);
      await page.getByRole('button', { name: 'Retry all' }).click();
      const [answer] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/retry/failed')),
        page.getByRole('button', { name: 'Confirm' }).click(),
      ]);
      // a same-origin PUT without a body: its Origin is ours, it carries no form content type
      expect(answer.request().headers()['content-type']).toBeUndefined();
      expect(answer.status()).toBe(200);
      const retriedAt = await until(
        async () => ((await finishedOn()) ?? 0) > failedAt! && (await finishedOn()),
        20_000,
        'the retried job to fail again',
      );

      // the same actions from a page of another origin: another server on this machine
      elsewhere = createServer((_req, res) => res.end('<!doctype html><title>elsewhere</title>'));
      await new Promise<void>((r) => elsewhere!.listen(0, '127.0.0.1', r));
      const other = await h.browser!.newPage();
      await other.goto(`http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/`);
      const api = `${h.base}/queues/api/queues/${SHARD_QUEUE}`;
      const [added, outcome] = await Promise.all([
        other.waitForResponse((r) => r.url() === `${api}/add`),
        other.evaluate(async (url) => {
          // a PUT needs a CORS preflight, which this server never grants
          const put = await fetch(`${url}/retry/failed`, { method: 'PUT', credentials: 'include' }).then(
            (r) => `answered ${r.status}`,
            () => 'blocked',
          );
          // a "simple" POST needs none: it reaches the server, which must refuse it by its Origin
          const post = await fetch(`${url}/add`, {
            method: 'POST',
            mode: 'no-cors',
            credentials: 'include',
            headers: { 'content-type': 'text/plain' },
            body: '{"name":"gradient","data":{}}',
          }).then(
            (r) => r.type,
            () => 'blocked',
          );
          return { put, post };
        }, api),
      ]);
      expect(outcome).toEqual({ put: 'blocked', post: 'opaque' });
      // 403 from the Origin check (the cookie is sent: another port of 127.0.0.1 is the same site)
      expect(added.status()).toBe(403);
      expect(await finishedOn()).toBe(retriedAt);
      expect((await queue.getJobs(['waiting', 'active', 'delayed', 'prioritized', 'failed'])).map((j) => j.id)).toEqual(
        [jobId],
      );
      await Promise.all([page.close(), other.close()]);
    } finally {
      elsewhere?.close();
      await queue.remove(jobId).catch(() => undefined);
      await queue.close();
    }
  });
});

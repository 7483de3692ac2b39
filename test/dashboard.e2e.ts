import { Redis } from 'ioredis';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { getJson, startApp, stopApp, uniquePrefix, until, type AppProcess } from './support/processes';
import { exampleConfig, waitForRun, type RunView } from './support/runs';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = resolve(__dirname, '..', 'test-artifacts');
const hasChromium = existsSync(CHROMIUM);

/** The page's window.nnqDashboard; functions run in the browser name it inline (the tests' lib has no DOM types). */
interface Win {
  nnqDashboard: { connected: boolean; runs: Record<string, { name: string; state: string; points: number }> };
}
if (!hasChromium) console.log(`dashboard e2e skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);

// The page a person watches training on: runs, live curves over server-sent events, workers, queue.
describe.skipIf(!hasChromium)('the coordinator dashboard in a browser', () => {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('dashboard');
  const dataDir = mkdtempSync(join(tmpdir(), 'nnq-dashboard-'));
  const token = 'dashboard-e2e-token-0123456789';
  const auth = { authorization: `Bearer ${token}` };
  const env = { REDIS_URL: redisUrl, NNQ_PREFIX: prefix, NNQ_DATA_DIR: dataDir, NNQ_HEARTBEAT_TTL_MS: '2000' };
  const processes: AppProcess[] = [];
  let browser: Browser | undefined;
  let base = '';

  beforeAll(async () => {
    const coordinator = startApp('coordinator', { ...env, NNQ_PORT: '0', NNQ_API_TOKEN: token });
    processes.push(coordinator);
    const [, port] = await coordinator.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
    base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 2; i++) processes.push(startApp('worker', env));
    await until(async () => (await getJson<unknown[]>(`${base}/workers`)).length === 2, 20_000, 'two workers');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all(processes.map((p) => stopApp(p)));
    const redis = new Redis(redisUrl);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const openDashboard = async (): Promise<Page> => {
    const page = await browser!.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(String(err)));
    await page.goto(`${base}/`);
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 10_000 });
    expect(errors).toEqual([]);
    return page;
  };

  /** Points in the run's loss chart, as the page reports them. */
  const points = (page: Page, id: string) =>
    page.$eval(`.run-card[data-run-id="${id}"] .chart-loss`, (el) =>
      Number((el as unknown as { dataset: Record<string, string> }).dataset.points),
    );

  const post = async (path: string, body?: unknown): Promise<RunView> => {
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as RunView;
  };

  it('shows a submitted run, its loss curve growing live, the workers and the queue', async () => {
    const page = await openDashboard();
    expect(await page.$$eval('#workers tbody tr', (rows) => rows.length)).toBe(2);
    // markup in a name must come out as the same text: the page never parses data as HTML
    const name = 'spirals &lt;b&gt;e2e&lt;/b&gt; & "quoted"';
    const run = await post('/runs', { ...exampleConfig('spirals.json'), name, epochs: 40 });

    const row = page.locator(`#runs tr[data-run-id="${run.id}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.locator('td.name').evaluate((td) => td.firstChild?.textContent)).toBe(name);
    expect(await page.locator('#runs b').count()).toBe(0);

    await page.waitForFunction((id) => (globalThis as unknown as Win).nnqDashboard.runs[id]?.points > 0, run.id, {
      timeout: 20_000,
    });
    const first = await points(page, run.id);
    await page.waitForFunction(
      ([id, n]) => (globalThis as unknown as Win).nnqDashboard.runs[id].points > n,
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
    const steps = (await getJson<{ type: string }[]>(`${base}/runs/${run.id}/history`)).filter(
      (h) => h.type === 'step',
    ).length;
    const late = await openDashboard();
    await late.waitForFunction(
      ([id, n]) => (globalThis as unknown as Win).nnqDashboard.runs[id]?.points >= n,
      [run.id, steps] as const,
      {
        timeout: 10_000,
      },
    );

    // a screenshot with some curve to look at (the CI keeps test-artifacts/)
    await page
      .waitForFunction((id) => (globalThis as unknown as Win).nnqDashboard.runs[id].points >= 120, run.id, {
        timeout: 8_000,
      })
      .catch(() => undefined);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });

    // state changes reach the page too
    await post(`/runs/${run.id}/cancel`).catch(() => undefined);
    const ended = await waitForRun(base, run.id, 120_000);
    await row.locator(`.state[data-state="${ended.state}"]`).waitFor({ timeout: 5_000 });
    await Promise.all([page.close(), late.close()]);
  });

  it('serves uPlot from node_modules and refuses unknown files', async () => {
    const js = await fetch(`${base}/dashboard/uPlot.iife.min.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await js.text()).toMatch(/uPlot/);
    expect((await fetch(`${base}/dashboard/uPlot.min.css`)).status).toBe(200);
    expect((await fetch(`${base}/dashboard/package.json`)).status).toBe(404);
    expect((await fetch(`${base}/dashboard/..%2F..%2Fpackage.json`)).status).toBe(404);
  });

  it('puts bull-board at /queues behind NNQ_API_TOKEN: bearer header, or ?token= once for a cookie', async () => {
    const open = await fetch(`${base}/queues`);
    expect(open.status).toBe(401);
    expect(await open.text()).toMatch(/needs NNQ_API_TOKEN.*\?token=/);
    expect((await fetch(`${base}/queues?token=wrong-token`)).status).toBe(401);
    expect((await fetch(`${base}/queues`, { headers: auth })).status).toBe(200);

    const login = await fetch(`${base}/queues?token=${token}`, { redirect: 'manual' });
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/queues');
    const cookie = login.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).not.toContain(token);
    const session = { cookie: cookie.split(';')[0] };
    expect((await fetch(`${base}/queues`, { headers: session })).status).toBe(200);
    const api = await fetch(`${base}/queues/api/queues`, { headers: session });
    expect(api.status).toBe(200);
    expect(JSON.stringify(await api.json())).toContain('shards');
    expect((await fetch(`${base}/queues/api/queues`, { headers: { cookie: 'nnq_queues=forged' } })).status).toBe(401);
  });
});

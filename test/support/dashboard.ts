import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, inject } from 'vitest';
import { getJson, startApp, stopApp, uniquePrefix, until, type AppProcess } from './processes';
import { deletePrefix } from './redis';
import type { RunView } from './runs';
import { CHROMIUM } from './tools';

/** Where the dashboard suites leave screenshots (the CI keeps test-artifacts/). */
export const ARTIFACTS = resolve(__dirname, '..', '..', 'test-artifacts');

/** The page's window.nnqDashboard; functions run in the browser name it inline (the tests' lib has no DOM types). */
export interface DashboardWin {
  nnqDashboard: {
    connected: boolean;
    runs: Record<string, { name: string; state: string; points: number }>;
    /** Run rows in the table now (active, and finished ones unfolded or found by the filter). */
    rows: number;
    /** ms from navigation to the first table drawn from a snapshot. */
    firstRenderMs: number | null;
  };
}

export interface DashboardHarness {
  /** http://127.0.0.1:<port> of the coordinator (set once beforeAll ran). */
  base: string;
  browser?: Browser;
  prefix: string;
  redisUrl: string;
  /** The Authorization header of the coordinator's NNQ_API_TOKEN. */
  auth: { authorization: string };
  token: string;
  /** A new page on the dashboard, live (its event stream open), with no page error. */
  openDashboard(): Promise<Page>;
  /** POST with the token; the answer as a run. */
  post(path: string, body?: unknown): Promise<RunView>;
}

/**
 * A coordinator (NNQ_API_TOKEN set) with `workers` workers on their own key prefix and data dir,
 * and a headless Chromium: started in beforeAll, stopped and cleaned up in afterAll.
 */
export function dashboardHarness(name: string, workers = 2): DashboardHarness {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix(name);
  const dataDir = mkdtempSync(join(tmpdir(), `nnq-${name}-`));
  const token = 'dashboard-e2e-token-0123456789';
  const env = { REDIS_URL: redisUrl, NNQ_PREFIX: prefix, NNQ_DATA_DIR: dataDir, NNQ_HEARTBEAT_TTL_MS: '2000' };
  const processes: AppProcess[] = [];
  const h: DashboardHarness = {
    base: '',
    prefix,
    redisUrl,
    token,
    auth: { authorization: `Bearer ${token}` },
    async openDashboard() {
      const page = await h.browser!.newPage({ viewport: { width: 1400, height: 1000 } });
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(String(err)));
      await page.goto(`${h.base}/`);
      await page.waitForSelector('#connection[data-state="live"]', { timeout: 10_000 });
      expect(errors).toEqual([]);
      return page;
    },
    async post(path, body) {
      const res = await fetch(`${h.base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...h.auth },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as RunView;
    },
  };

  beforeAll(async () => {
    const coordinator = startApp('coordinator', { ...env, NNQ_PORT: '0', NNQ_API_TOKEN: token });
    processes.push(coordinator);
    const [, port] = await coordinator.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
    h.base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < workers; i++) processes.push(startApp('worker', env));
    await until(async () => (await getJson<unknown[]>(`${h.base}/workers`)).length === workers, 20_000, 'workers');
    h.browser = await chromium.launch({
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
    await h.browser?.close();
    await Promise.all(processes.map((p) => stopApp(p)));
    await deletePrefix(redisUrl, prefix);
    rmSync(dataDir, { recursive: true, force: true });
  });

  return h;
}

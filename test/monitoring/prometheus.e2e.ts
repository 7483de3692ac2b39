import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { until } from '../support/processes';
import { hasTool } from '../support/tools';
import { freePort } from '@nnq/launch';
import { TestCluster } from '../support/cluster';
import { waitForRun } from '../support/runs';
import { DEPLOY, startCoordinatorAndWorker, submitXor } from './support';

const skip = !hasTool('prometheus', 'test/monitoring/prometheus.e2e.ts');

interface ApiResponse<T> {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  data: T;
}
type Vector = { resultType: 'vector'; result: { metric: Record<string, string>; value: [number, string] }[] };
type Matrix = { resultType: 'matrix'; result: { metric: Record<string, string>; values: [number, string][] }[] };

/** Every `expr` in a Grafana dashboard (panels, rows' nested panels) and the metric of query variables. */
export function dashboardExprs(dashboard: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'expr' && typeof x === 'string') out.push(x);
        else walk(x);
      }
    }
  };
  const d = dashboard as { panels?: unknown; templating?: { list?: { query?: unknown }[] } };
  walk(d.panels);
  for (const t of d.templating?.list ?? []) {
    const q = typeof t.query === 'object' && t.query ? (t.query as { query?: string }).query : t.query;
    const m = typeof q === 'string' ? q.match(/^label_values\((.+),\s*\w+\)$/) : null;
    if (m) out.push(m[1]);
  }
  return out;
}

/** Grafana's variables replaced by concrete values. */
export function concrete(expr: string, vars: Record<string, string>): string {
  return expr
    .replace(/\$__rate_interval|\$__interval|\$__range/g, '1m')
    .replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (m, a?: string, b?: string) => vars[(a ?? b)!] ?? m);
}

describe.skipIf(skip)('a real Prometheus scraping a training cluster', () => {
  const cluster = new TestCluster(inject('redisUrl'), 'prometheus');
  const tmp = mkdtempSync(join(tmpdir(), 'nnq-prometheus-'));
  let prometheus: ChildProcess | undefined;
  let prometheusLog = '';
  let api = '';
  let runId = '';
  let started = 0;
  let finished = 0;

  async function get<T>(path: string, params: Record<string, string>): Promise<ApiResponse<T>> {
    const res = await fetch(`${api}${path}?${new URLSearchParams(params)}`);
    return (await res.json()) as ApiResponse<T>;
  }

  beforeAll(async () => {
    const worker = await startCoordinatorAndWorker(cluster);
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    const config = [
      'global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }',
      `rule_files: ['${join(DEPLOY, 'prometheus', 'alerts.yml')}']`,
      'scrape_configs:',
      `  - { job_name: nnq-coordinator, static_configs: [{ targets: ['${new URL(cluster.base).host}'] }] }`,
      `  - { job_name: nnq-worker, static_configs: [{ targets: ['${new URL(worker.url).host}'] }] }`,
      '',
    ].join('\n');
    writeFileSync(join(tmp, 'prometheus.yml'), config);
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(tmp, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(tmp, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout?.on('data', (d: Buffer) => (prometheusLog += d.toString()));
    prometheus.stderr?.on('data', (d: Buffer) => (prometheusLog += d.toString()));
    await until(async () => (await fetch(`${api}/-/ready`)).ok, 20_000, `Prometheus ready\n${prometheusLog}`);
    await until(
      async () => {
        const t = await get<{ activeTargets: { health: string }[] }>('/api/v1/targets', {});
        return t.data.activeTargets.length === 2 && t.data.activeTargets.every((x) => x.health === 'up');
      },
      15_000,
      'both targets up',
    );
    // about 8 s of training at 1 s scrapes; a lower lr than the example so the loss falls throughout
    started = Date.now() / 1000;
    runId = await submitXor(cluster, { steps: 800, optimizer: { type: 'adam', lr: 0.005 } });
    expect((await waitForRun(cluster.base, runId, 200_000)).state).toBe('completed');
    // two more scrapes so the last value is in
    await new Promise((r) => setTimeout(r, 2500));
    finished = Date.now() / 1000;
  });

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null && prometheus.signalCode === null) {
      const p = prometheus;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(tmp, { recursive: true, force: true });
    await cluster.stop();
  });

  it('has nnq_train_loss{run,split="train"} and it went down over the run (query_range)', async () => {
    const selector = `nnq_train_loss{run="${runId}",split="train"}`;
    const now = await get<Vector>('/api/v1/query', { query: selector });
    expect(now.status).toBe('success');
    expect(now.data.result).toHaveLength(1);
    expect(now.data.result[0].metric).toMatchObject({ job: 'nnq-coordinator', app: 'coordinator', run: runId });
    const range = await get<Matrix>('/api/v1/query_range', {
      query: selector,
      start: String(started),
      end: String(finished),
      step: '1',
    });
    expect(range.status).toBe('success');
    const values = range.data.result[0].values.map(([, v]) => Number(v));
    expect(values.length, `samples ${JSON.stringify(values)}`).toBeGreaterThanOrEqual(4);
    expect(values.at(-1)!).toBeLessThan(values[0]);
    const steps = await get<Vector>('/api/v1/query', { query: `nnq_train_step{run="${runId}"}` });
    expect(Number(steps.data.result[0].value[1])).toBe(800);
  });

  it('scraped the queue, worker and Redis series from the coordinator and shards from the worker', async () => {
    const one = async (q: string) => (await get<Vector>('/api/v1/query', { query: q })).data.result;
    expect(await one('nnq_workers_live')).toMatchObject([{ value: [expect.any(Number), '1'] }]);
    expect(await one('nnq_redis_up')).toMatchObject([{ value: [expect.any(Number), '1'] }]);
    expect(await one('nnq_queue_jobs')).toHaveLength(6);
    expect(await one('max_over_time(nnq_run_running[1m])')).toMatchObject([{ metric: { run: runId } }]);
    const shards = await one('nnq_shards_total{kind="gradient",job="nnq-worker"}');
    expect(Number(shards[0].value[1])).toBe(1600);
  });

  it('loads and evaluates the rules of deploy/prometheus/alerts.yml without errors, none firing', async () => {
    const rules = await until(
      async () => {
        const r = await get<{ groups: { rules: { name: string; health: string; lastError?: string }[] }[] }>(
          '/api/v1/rules',
          {},
        );
        const all = r.data.groups.flatMap((g) => g.rules);
        return all.length === 5 && all.every((x) => x.health !== 'unknown') && all;
      },
      10_000,
      'rules evaluated',
    );
    expect(rules.filter((r) => r.health !== 'ok')).toEqual([]);
    const alerts = await get<{ alerts: { labels: Record<string, string>; state: string }[] }>('/api/v1/alerts', {});
    expect(alerts.data.alerts).toEqual([]);
  });

  it('every expr of the Grafana dashboard parses and runs on Prometheus', async () => {
    const dashboard: unknown = JSON.parse(
      readFileSync(join(DEPLOY, 'grafana', 'dashboards', 'nnq-training.json'), 'utf8'),
    );
    const exprs = dashboardExprs(dashboard);
    expect(exprs.length).toBeGreaterThanOrEqual(15);
    const vars = { run: runId, split: 'train' };
    const failures: string[] = [];
    let withData = 0;
    for (const e of exprs) {
      const q = concrete(e, vars);
      expect(q, 'a Grafana variable left over').not.toMatch(/\$/);
      const r = await get<Vector>('/api/v1/query', { query: q });
      if (r.status !== 'success') failures.push(`${q}: ${r.errorType}: ${r.error}`);
      else if (r.data.result.length) withData++;
    }
    expect(failures).toEqual([]);
    // most panels have data right after a run (histogram quantiles over 1m need recent observations)
    expect(withData, `${withData} of ${exprs.length} exprs returned data`).toBeGreaterThanOrEqual(exprs.length - 4);
  });
});

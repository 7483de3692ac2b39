import { Redis } from 'ioredis';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { getJson, startApp, stopApp, uniquePrefix, until, type AppProcess } from '../support/processes';

export const ROOT = resolve(__dirname, '..', '..');
export const DEPLOY = join(ROOT, 'deploy');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a command, feeding `input` on stdin. */
export function run(cmd: string, args: string[], input?: string): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolveRun({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

/** A coordinator and one worker as real processes, on their own key prefix and data dir. */
export class TestCluster {
  readonly prefix: string;
  readonly dataDir = mkdtempSync(join(tmpdir(), 'nnq-monitoring-'));
  coordinator!: AppProcess;
  worker!: AppProcess;
  coordinatorUrl = '';
  workerUrl = '';

  constructor(
    private readonly redisUrl: string,
    name: string,
  ) {
    this.prefix = uniquePrefix(name);
  }

  async start(): Promise<void> {
    const env = { REDIS_URL: this.redisUrl, NNQ_PREFIX: this.prefix, NNQ_DATA_DIR: this.dataDir };
    this.coordinator = startApp('coordinator', { ...env, NNQ_PORT: '0' });
    this.worker = startApp('worker', { ...env, NNQ_WORKER_CONCURRENCY: '2' });
    const [, cPort] = await this.coordinator.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
    const [, wPort] = await this.worker.waitFor(/serving \/health and \/metrics on http:\/\/127\.0\.0\.1:(\d+)/);
    this.coordinatorUrl = `http://127.0.0.1:${cPort}`;
    this.workerUrl = `http://127.0.0.1:${wPort}`;
    await until(
      async () => (await getJson<unknown[]>(`${this.coordinatorUrl}/workers`)).length === 1,
      10_000,
      'worker',
    );
  }

  /** Submit examples/<name>.json with `overrides` on top; resolves with the run id. */
  async submit(example: string, overrides: Record<string, unknown>): Promise<string> {
    const config = { ...JSON.parse(readFileSync(join(ROOT, 'examples', `${example}.json`), 'utf8')), ...overrides };
    const res = await fetch(`${this.coordinatorUrl}/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(config),
    });
    if (!res.ok) throw new Error(`POST /runs: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { id: string }).id;
  }

  async waitForRun(id: string, timeoutMs = 120_000): Promise<{ state: string; step: number; loss?: number }> {
    return until(
      async () => {
        const r = await getJson<{ state: string; step: number; loss?: number }>(`${this.coordinatorUrl}/runs/${id}`);
        return ['completed', 'failed', 'cancelled'].includes(r.state) && r;
      },
      timeoutMs,
      `run ${id} to finish`,
    );
  }

  async scrape(url: string): Promise<string> {
    const res = await fetch(`${url}/metrics`);
    if (!res.ok) throw new Error(`GET ${url}/metrics: ${res.status}`);
    return res.text();
  }

  /** Stop both apps, delete this prefix's Redis keys and the data dir. */
  async stop(): Promise<void> {
    await Promise.all([this.worker, this.coordinator].filter(Boolean).map((p) => stopApp(p)));
    const redis = new Redis(this.redisUrl);
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${this.prefix}:*`, 'COUNT', 1000);
        if (keys.length) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    } finally {
      await redis.quit();
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

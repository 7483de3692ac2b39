import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getJson, startApp, stopApp, uniquePrefix, until, type AppProcess } from './processes';
import { deletePrefix } from './redis';

/** A worker process and the base URL of its /health and /metrics server. */
export interface TestWorker extends AppProcess {
  url: string;
}

/**
 * A coordinator and workers as real processes on their own key prefix and data dir, for tests
 * that submit runs, scrape metrics, or kill and restart processes. `stop()` leaves nothing behind.
 */
export class TestCluster {
  readonly prefix: string;
  readonly dataDir: string;
  coordinator?: AppProcess;
  /** The coordinator's base URL, once started. */
  base = '';
  readonly workers: TestWorker[] = [];

  constructor(
    readonly redisUrl: string,
    name: string,
    readonly env: Record<string, string> = {},
  ) {
    this.prefix = uniquePrefix(name);
    this.dataDir = mkdtempSync(join(tmpdir(), `nnq-${name}-`));
  }

  private appEnv(extra: Record<string, string> = {}): Record<string, string> {
    return {
      REDIS_URL: this.redisUrl,
      NNQ_PREFIX: this.prefix,
      NNQ_DATA_DIR: this.dataDir,
      NNQ_HEARTBEAT_TTL_MS: '2000',
      ...this.env,
      ...extra,
    };
  }

  async startCoordinator(extra: Record<string, string> = {}): Promise<void> {
    this.coordinator = startApp('coordinator', this.appEnv({ NNQ_PORT: '0', ...extra }));
    const [, port] = await this.coordinator.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
    this.base = `http://127.0.0.1:${port}`;
  }

  async addWorker(extra: Record<string, string> = {}): Promise<TestWorker> {
    const w: TestWorker = Object.assign(startApp('worker', this.appEnv(extra)), { url: '' });
    this.workers.push(w);
    const [, port] = await w.waitFor(/serving \/health and \/metrics on http:\/\/\S+:(\d+)/);
    w.url = `http://127.0.0.1:${port}`;
    return w;
  }

  async waitForWorkers(n: number): Promise<void> {
    await until(
      async () => (await getJson<unknown[]>(`${this.base}/workers`)).length === n,
      15_000,
      `${n} live workers`,
    );
  }

  /** SIGKILL a process of this cluster (no shutdown hooks run). */
  async kill(p: AppProcess): Promise<void> {
    p.child.kill('SIGKILL');
    await p.exited;
    const i = this.workers.indexOf(p as TestWorker);
    if (i >= 0) this.workers.splice(i, 1);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.workers, ...(this.coordinator ? [this.coordinator] : [])].map((p) => stopApp(p)));
    await deletePrefix(this.redisUrl, this.prefix);
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

import { redactUrl } from '@nnq/config';
import { APP_NODE_ARGS, freePort, redisReachable, startRedisServer, type ThrowawayRedis } from '@nnq/launch';
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export interface LocalClusterOptions {
  workers: number;
  /** Coordinator port; NNQ_PORT, else 3000. */
  port: number;
  /** Redis URL to use when reachable; REDIS_URL, else the default local Redis. */
  redisUrl: string;
  env?: NodeJS.ProcessEnv;
  /** redis-server binary for the throwaway Redis (NNQ_REDIS_SERVER, else from PATH). */
  redisServer?: string;
  /** Where child output goes; the CLI passes its own stdout. */
  log?: (line: string) => void;
}

export class NoRedisError extends Error {
  constructor(url: string) {
    super(
      `no Redis answers at ${redactUrl(url)} and no redis-server binary is on PATH. Three ways out:\n` +
        `  1. install Redis:      apt-get install -y redis-server   (then run this again)\n` +
        `  2. point at a Redis:   REDIS_URL=redis://host:6379 nnq up\n` +
        `  3. use the compose stack: docker compose up -d redis   (then REDIS_URL=redis://127.0.0.1:6379)`,
    );
    this.name = 'NoRedisError';
  }
}

const APP_MAIN = (app: string) => resolve(__dirname, '..', '..', app, 'src', 'main.js');

/**
 * A local nnq cluster in the foreground: a Redis (the reachable one, or a throwaway redis-server),
 * one coordinator and N workers as child processes. stop() ends exactly what start() started.
 */
export class LocalCluster {
  private redis?: ThrowawayRedis;
  private readonly children: ChildProcess[] = [];
  private stopping?: Promise<void>;
  /** How the coordinator exited (`code 1`, `SIGKILL`) when it did, and who wants to know. */
  private coordinatorExit?: string;
  private onCoordinatorExit?: (how: string) => void;
  redisUrl = '';
  coordinatorUrl = '';

  constructor(private readonly options: LocalClusterOptions) {}

  async start(): Promise<void> {
    const log = this.options.log ?? (() => undefined);
    if (await redisReachable(this.options.redisUrl)) {
      this.redisUrl = this.options.redisUrl;
      log(`using Redis at ${redactUrl(this.redisUrl)}`);
    } else {
      try {
        this.redis = await startRedisServer([], this.options.redisServer ?? 'redis-server');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NoRedisError(this.options.redisUrl);
        throw err;
      }
      this.redisUrl = this.redis.url;
      log(`started a throwaway redis-server at ${redactUrl(this.redisUrl)} (pid ${this.redis.pid})`);
    }
    const port = this.options.port === 0 ? await freePort() : this.options.port;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...this.options.env,
      REDIS_URL: this.redisUrl,
      NNQ_EXIT_WITH_PARENT: '1',
    };
    // Nest colours its logs unless NO_COLOR: no escape codes in logs forwarded to a pipe
    if (!process.stdout.isTTY) env.NO_COLOR ??= '1';
    // a throwaway Redis goes with the coordinator should we die without stopping it (SIGKILL)
    const owns = this.redis ? '1' : '0';
    const coordinator = this.spawnApp('coordinator', { ...env, NNQ_PORT: String(port), NNQ_OWNS_REDIS: owns });
    // our coordinator says where it listens; a /health answer could come from someone else's process
    const [, listening] = await this.waitForLine(coordinator, /listening on (http:\/\/\S+)/, 30_000);
    this.coordinatorUrl = listening.replace('0.0.0.0', '127.0.0.1');
    for (let i = 0; i < this.options.workers; i++) this.spawnApp(`worker`, { ...env, NNQ_WORKER_PORT: '0' });
    await this.waitForWorkers(this.options.workers, 30_000);
  }

  private readonly outputs = new Map<ChildProcess, string>();

  private spawnApp(app: 'coordinator' | 'worker', env: NodeJS.ProcessEnv): ChildProcess {
    const log = this.options.log ?? (() => undefined);
    // own process group: Ctrl-C reaches the CLI only, which stops the children in order
    // stdin is a pipe whose end tells the child that we are gone (NNQ_EXIT_WITH_PARENT)
    const child = spawn(process.execPath, [...APP_NODE_ARGS, APP_MAIN(app)], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    this.outputs.set(child, '');
    const tag = `${app}[${child.pid}]`;
    const forward = (chunk: Buffer) => {
      this.outputs.set(child, (this.outputs.get(child) ?? '').slice(-20_000) + chunk.toString());
      for (const line of chunk.toString().split('\n')) if (line.trim()) log(`${tag} ${line}`);
    };
    child.stdout?.on('data', forward);
    child.stderr?.on('data', forward);
    child.once('exit', (code, signal) => {
      if (this.stopping) return;
      log(`${tag} exited (${signal ?? code})`);
      if (app !== 'coordinator') return;
      this.coordinatorExit = signal ?? `code ${code}`;
      this.onCoordinatorExit?.(this.coordinatorExit);
    });
    this.children.push(child);
    return child;
  }

  private async waitForLine(child: ChildProcess, re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // Nest's coloured log lines end the URL with an escape code: match on the plain text
      const out = stripAnsi(this.outputs.get(child) ?? '');
      const m = out.match(re);
      if (m) return m;
      if (child.exitCode !== null) {
        const reason = out.match(/nnq \w+: .*/)?.[0] ?? `exit code ${child.exitCode}`;
        throw new Error(`the coordinator exited during start-up: ${reason}`);
      }
      if (Date.now() > deadline) throw new Error(`the coordinator did not start within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  /**
   * Call `fn` once with how the coordinator exited (`SIGKILL`, `code 1`), should it exit before
   * stop(): at once if it has already. Without it the workers would go on polling a queue no one
   * drives (`nnq up` then stops everything it started).
   */
  watchCoordinator(fn: (how: string) => void): void {
    if (this.coordinatorExit) fn(this.coordinatorExit);
    else this.onCoordinatorExit = fn;
  }

  /** Whether this cluster started its own throwaway redis-server. */
  get startedRedis(): boolean {
    return !!this.redis;
  }

  /** Pids of the processes this cluster started (redis-server included when it started one). */
  pids(): number[] {
    return [...this.children.map((c) => c.pid ?? -1), ...(this.redis ? [this.redis.pid] : [])];
  }

  private async waitForWorkers(n: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const res = await fetch(`${this.coordinatorUrl}/workers`).catch(() => null);
      const list = res?.ok ? ((await res.json()) as { pid: number }[]) : [];
      const ours = new Set(this.children.map((c) => c.pid));
      if (list.filter((w) => ours.has(w.pid)).length >= n) return;
      if (this.children.some((c) => c.exitCode !== null)) throw new Error(`a worker exited during start-up`);
      await sleep(200);
    }
    throw new Error(`${n} workers did not announce themselves within ${timeoutMs} ms`);
  }

  /** SIGKILL every process this cluster started, now (a second Ctrl-C); stop() may still be under way. */
  kill(): void {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    this.redis?.kill();
  }

  /** Stop workers, then the coordinator, then the throwaway Redis. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const workers = this.children.slice(1);
      await Promise.all(workers.map((c) => terminate(c, 10_000)));
      if (this.children[0]) await terminate(this.children[0], 10_000);
      await this.redis?.stop();
    })();
    return this.stopping;
  }
}

async function terminate(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Text without ANSI SGR sequences (colours). */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, '');
}

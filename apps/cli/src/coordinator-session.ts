import { ApiClient, coordinatorUrl } from './api-client';
import { CliError, EXIT } from './cli-error';
import type { LocalCluster } from './local-cluster';

/** What `nnq train` and `nnq sweep` do their work with. */
export interface CoordinatorSession {
  client: ApiClient;
  /** True when the coordinator is a local cluster started for this command (stopped when it ends). */
  embedded: boolean;
  /** Aborted by the first Ctrl-C (or SIGTERM): stop following, the session does the rest. */
  signal: AbortSignal;
  /**
   * What the first Ctrl-C cancels on an embedded cluster (the run or sweep this command submitted),
   * named for the message: `run 3f2a`. On a coordinator of its own the work goes on (detached).
   */
  cancelOnInterrupt(what: string, cancel: () => Promise<unknown>): void;
}

export interface SessionOptions {
  workers: number;
  /** NNQ_API_TOKEN. */
  token?: string;
  /** REDIS_URL: the local cluster uses this Redis when it answers, else starts a throwaway one. */
  redisUrl: string;
  /** Show the local cluster's logs. */
  verbose?: boolean;
  /** Extra environment of the local cluster's processes (NNQ_DATA_ROOTS for the files a config names). */
  env?: NodeJS.ProcessEnv;
  /** Where messages go (one line each); the CLI's stdout. */
  say: (line: string) => void;
  /** How long a cancel request may take before the cluster is stopped anyway. */
  cancelTimeoutMs?: number;
}

/**
 * Run `work` on the coordinator at NNQ_URL, or, when none answers, on a local cluster started here
 * for it (a Redis if needed, a coordinator, `workers` workers). Ctrl-C and SIGTERM, the same for
 * every command that starts a cluster this way:
 * - the first one aborts `signal`. During start-up it stops what has started. On the local cluster
 *   it cancels what `work` registered (the run or the sweep, recorded as cancelled), then stops the
 *   cluster (it says so at once, and that a second Ctrl-C kills it); on a coordinator of its own it
 *   only detaches. The exit code is 130.
 * - a second one forces: the local cluster's processes are killed (SIGKILL) and nnq exits, 130.
 * Returns `work`'s exit code, or 130 when interrupted.
 */
export async function onCoordinator(
  options: SessionOptions,
  work: (session: CoordinatorSession) => Promise<number>,
): Promise<number> {
  const { say } = options;
  const stop = new AbortController();
  let cluster: LocalCluster | undefined;
  const onSignal = () => {
    if (stop.signal.aborted) {
      cluster?.kill();
      if (cluster) say('\ninterrupted again: killed the local cluster');
      process.exit(EXIT.interrupted);
    }
    if (cluster) say('\nstopping the local cluster (Ctrl-C again kills it)');
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const remote = new ApiClient(coordinatorUrl(), options.token);
    if (await remote.healthy(1000)) return await work(session(remote, false, stop.signal, () => undefined));
    say(`no coordinator answers at ${remote.baseUrl}; starting a local cluster with ${options.workers} workers`);
    cluster = await localCluster(options);
    if (!(await startLocal(cluster, stop.signal))) return interrupted(say, 'stopped the local cluster');
    let cancel: { what: string; cancel: () => Promise<unknown> } | undefined;
    const client = new ApiClient(cluster.coordinatorUrl, options.token);
    const code = await work(session(client, true, stop.signal, (what, fn) => (cancel = { what, cancel: fn })));
    if (!stop.signal.aborted) return code;
    if (!cancel) return interrupted(say, 'stopping the local cluster');
    const ms = options.cancelTimeoutMs ?? 10_000;
    const done = await withTimeout(cancel.cancel(), ms).then(
      (ok) => (ok ? `cancelled ${cancel!.what}` : `${cancel!.what} did not cancel within ${ms / 1000} s`),
      (err: Error) => `could not cancel ${cancel!.what}: ${err.message}`,
    );
    return interrupted(say, `${done}; stopping the local cluster`);
  } finally {
    await cluster?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function session(
  client: ApiClient,
  embedded: boolean,
  signal: AbortSignal,
  cancelOnInterrupt: CoordinatorSession['cancelOnInterrupt'],
): CoordinatorSession {
  return { client, embedded, signal, cancelOnInterrupt };
}

async function localCluster(options: SessionOptions): Promise<LocalCluster> {
  // loaded on demand: a command that finds a coordinator never loads the launcher
  const { LocalCluster } = await import('./local-cluster');
  return new LocalCluster({
    workers: options.workers,
    port: 0,
    redisUrl: options.redisUrl,
    redisServer: process.env.NNQ_REDIS_SERVER,
    log: options.verbose ? options.say : undefined,
    env: options.env,
  });
}

/** Start the local cluster; false when Ctrl-C came during start-up (what had started is stopped). */
async function startLocal(cluster: LocalCluster, signal: AbortSignal): Promise<boolean> {
  const { NoRedisError } = await import('./local-cluster');
  // Ctrl-C during start-up: stop what has started; start() then fails and we report the interrupt
  const stopOnAbort = () => void cluster.stop();
  signal.addEventListener('abort', stopOnAbort, { once: true });
  try {
    await cluster.start();
  } catch (err) {
    await cluster.stop();
    if (signal.aborted) return false;
    if (err instanceof NoRedisError) throw new CliError(err.message, EXIT.unavailable);
    throw err;
  } finally {
    signal.removeEventListener('abort', stopOnAbort);
  }
  if (!signal.aborted) return true;
  await cluster.stop();
  return false;
}

/** Resolves true when `p` settles in time, false after `ms`; rejects with `p`'s error. */
function withTimeout(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
  return Promise.race([p.then(() => true), late]).finally(() => clearTimeout(timer));
}

function interrupted(say: (line: string) => void, message: string): number {
  say(`\ninterrupted: ${message}`);
  return EXIT.interrupted;
}

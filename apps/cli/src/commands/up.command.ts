import type { Command } from 'commander';

/** `nnq up`'s exit code when its coordinator died under it (EX_SOFTWARE: an internal error). */
const EXIT_COORDINATOR_DIED = 70;

/** `nnq up --workers N`: a local cluster in the foreground until Ctrl-C or SIGTERM (or its coordinator dies). */
export function registerUp(program: Command): void {
  program
    .command('up')
    .description('start a local cluster (Redis if needed, the coordinator, N workers) in the foreground')
    .option('-w, --workers <n>', 'number of worker processes', parsePositiveInt('--workers'), 2)
    .action(async (opts: { workers: number }) => {
      // Nest, BullMQ and ioredis load on demand: the other commands start without them
      const { loadConfig, redactUrl } = await import('@nnq/config');
      const { LocalCluster, NoRedisError } = await import('../local-cluster');
      const config = loadConfig();
      const cluster = new LocalCluster({
        workers: opts.workers,
        port: config.NNQ_PORT,
        redisUrl: config.REDIS_URL,
        redisServer: process.env.NNQ_REDIS_SERVER,
        log: (line) => process.stdout.write(`${line}\n`),
      });
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        process.stdout.write(`\n${signal}: stopping the local cluster...\n`);
        void cluster.stop().then(() => {
          process.stdout.write('stopped\n');
          process.exit(0);
        });
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
      try {
        await cluster.start();
      } catch (err) {
        await cluster.stop();
        if (err instanceof NoRedisError) {
          process.stderr.write(`nnq up: ${err.message}\n`);
          process.exit(69);
        }
        throw err;
      }
      // a coordinator that dies (SIGKILL, a crash) takes the cluster down with it, and says so
      cluster.watchCoordinator((how) => {
        if (stopping) return;
        stopping = true;
        const what = cluster.startedRedis ? 'the workers and the Redis nnq started' : 'the workers nnq started';
        process.stderr.write(`nnq up: coordinator exited (${how}); stopping ${what}\n`);
        void cluster.stop().then(() => process.exit(EXIT_COORDINATOR_DIED));
      });
      process.stdout.write(
        [
          '',
          `nnq local cluster is up (${opts.workers} workers); Ctrl-C stops it`,
          `  coordinator  ${cluster.coordinatorUrl}`,
          `  API docs     ${cluster.coordinatorUrl}/docs`,
          `  workers      ${cluster.coordinatorUrl}/workers`,
          `  metrics      ${cluster.coordinatorUrl}/metrics`,
          `  redis        ${redactUrl(cluster.redisUrl)}`,
          '',
        ].join('\n'),
      );
    });
}

export function parsePositiveInt(flag: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1)
      throw new Error(`${flag} must be a positive integer, got "${value}"`);
    return Number(value);
  };
}

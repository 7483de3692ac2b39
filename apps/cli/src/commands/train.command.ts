import type { Command } from 'commander';
import { ApiClient, ApiError, coordinatorUrl } from '../api-client';
import { CliError, EXIT } from '../cli-error';
import { checkMemoryBudget, readRunConfigFile, type RunConfigFile } from '../config-file';
import { followRun } from '../follow-run';
import type { LocalCluster } from '../local-cluster';
import { writeModelFile } from '../model-output';
import { ProgressRenderer } from '../progress-renderer';
import { exitCodeOf, formatOutcome, RunViewSchema, type RunView } from '../run-view';
import { embeddedDataRoots } from '../embedded-roots';
import { trainInProcess } from '../train-local';
import { parsePositiveInt } from './up.command';

interface TrainOptions {
  out?: string;
  local?: boolean;
  workers: number;
  verbose?: boolean;
}

const CLASSIFICATION_LOSSES: readonly string[] = ['softmax_cross_entropy', 'sigmoid_binary_cross_entropy'];
const say = (line: string) => process.stdout.write(`${line}\n`);

/**
 * `nnq train <config>`: validate the config here, then train on the coordinator at NNQ_URL, or on an
 * embedded local cluster when none answers, or in this process with --local.
 */
export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train a run config: on the coordinator at NNQ_URL, else on an embedded local cluster')
    .argument('<config>', 'run config JSON file (see examples/)')
    .option('-o, --out <path>', 'where to write the model (default ./<name>-<run id>.safetensors)')
    .option('--local', 'train in this process instead of on a cluster (same steps, same weights)')
    .option('-w, --workers <n>', 'workers of the embedded cluster', parsePositiveInt('--workers'), 2)
    .option('--verbose', "show the embedded cluster's logs")
    .action(async (file: string, opts: TrainOptions) => {
      const { config, json, secondOrder } = readRunConfigFile(file, { local: opts.local });
      const { loadConfig } = await import('@nnq/config'); // on demand, as in nnq up
      const env = loadConfig();
      checkMemoryBudget(file, config, {
        workerMb: env.NNQ_WORKER_MEMORY_MB,
        coordinatorMb: env.NNQ_COORDINATOR_MEMORY_MB,
      });
      // regression losses report accuracy 0: show it for classification only
      const accuracy = CLASSIFICATION_LOSSES.includes(config.model.loss);
      const stop = new AbortController();
      let onStop: (() => void) | undefined;
      const onSignal = () => {
        if (stop.signal.aborted) process.exit(EXIT.interrupted); // a second Ctrl-C: now
        stop.abort();
        onStop?.();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let code: number;
      try {
        if (opts.local) {
          const local = { out: opts.out, engine: env.NNQ_ENGINE, signal: stop.signal, accuracy, secondOrder };
          code = await trainInProcess(config, file, local);
        } else {
          const cluster = { token: env.NNQ_API_TOKEN, redisUrl: env.REDIS_URL, accuracy, signal: stop.signal };
          code = await trainOnCluster({ config, json, file }, opts, cluster, (f) => (onStop = f));
        }
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      if (code !== EXIT.ok) throw new CliError('', code);
    });
}

interface ClusterEnv {
  token?: string;
  redisUrl: string;
  accuracy: boolean;
  /** Aborted by Ctrl-C / SIGTERM. */
  signal: AbortSignal;
}

async function trainOnCluster(
  { config, json, file }: RunConfigFile & { file: string },
  opts: TrainOptions,
  env: ClusterEnv,
  setOnStop: (f: (() => void) | undefined) => void,
): Promise<number> {
  const { signal } = env;
  const remote = new ApiClient(coordinatorUrl(), env.token);
  let cluster: LocalCluster | undefined;
  let client = remote;
  if (await remote.healthy(1000)) {
    say(`training ${config.name} on the coordinator at ${remote.baseUrl}`);
  } else {
    say(`no coordinator answers at ${remote.baseUrl}; starting a local cluster with ${opts.workers} workers`);
    const { LocalCluster, NoRedisError } = await import('../local-cluster');
    cluster = new LocalCluster({
      workers: opts.workers,
      port: 0,
      redisUrl: env.redisUrl,
      redisServer: process.env.NNQ_REDIS_SERVER,
      log: opts.verbose ? say : undefined,
      // the files this config names may be read by our own coordinator (NNQ_DATA_ROOTS)
      env: embeddedDataRoots(config.dataset.source),
    });
    // Ctrl-C during start-up: stop what has started; start() then fails and we report the interrupt
    setOnStop(() => void cluster?.stop());
    try {
      await cluster.start();
    } catch (err) {
      await cluster.stop();
      if (signal.aborted) return interrupted('stopped the local cluster');
      if (err instanceof NoRedisError) throw new CliError(err.message, EXIT.unavailable);
      throw err;
    }
    setOnStop(undefined);
    client = new ApiClient(cluster.coordinatorUrl, env.token);
    if (signal.aborted) {
      await cluster.stop();
      return interrupted('stopped the local cluster');
    }
  }
  try {
    const run = await submit(client, json, file);
    const rows = run.batchSize ?? config.batchSize;
    say(`run ${run.id} submitted: ${run.totalSteps} steps of ${rows} rows in ${config.shards} shards`);
    const renderer = new ProgressRenderer(process.stdout, { accuracy: env.accuracy });
    const { run: last, detached } = await followRun(client, run.id, renderer, {
      signal,
      accuracy: env.accuracy,
      tolerateMs: cluster ? 5_000 : 30_000,
    });
    if (detached) {
      if (cluster) return interrupted(`stopping the local cluster; run ${run.id} stops at step ${last.step}`);
      return interrupted(`detached; run ${run.id} continues on ${client.baseUrl} (nnq watch ${run.id})`);
    }
    say(formatOutcome(last, env.accuracy));
    if (last.state === 'completed') {
      const bytes = await client.bytes(`/runs/${encodeURIComponent(run.id)}/model`);
      say(`model written to ${writeModelFile(opts.out, last.name, last.id, bytes)} (${bytes.length} bytes)`);
    }
    return exitCodeOf(last.state);
  } finally {
    await cluster?.stop();
  }
}

/** POST /runs; the coordinator's 400 (a dataset that does not fit the model, ...) names the file. */
async function submit(client: ApiClient, json: unknown, file: string): Promise<RunView> {
  try {
    return await client.post('/runs', json, RunViewSchema);
  } catch (err) {
    if (err instanceof ApiError && err.status === 400) {
      const problems = err.problems.length ? err.problems : [err.message];
      throw new CliError(`${file}: the coordinator refused the run:\n  ${problems.join('\n  ')}`, EXIT.usage);
    }
    throw err;
  }
}

function interrupted(message: string): number {
  say(`\ninterrupted: ${message}`);
  return EXIT.interrupted;
}

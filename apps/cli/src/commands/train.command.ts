import type { Command } from 'commander';
import { ApiError, type ApiClient } from '../api-client';
import { CliError, EXIT } from '../cli-error';
import { checkMemoryBudget, readRunConfigFile, type RunConfigFile } from '../config-file';
import { onCoordinator, type CoordinatorSession } from '../coordinator-session';
import { followRun } from '../follow-run';
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
      if (!opts.local) {
        // the coordinator at NNQ_URL, or a local cluster: Ctrl-C as coordinator-session.ts says
        const session = {
          workers: opts.workers,
          token: env.NNQ_API_TOKEN,
          redisUrl: env.REDIS_URL,
          verbose: opts.verbose,
          // the files this config names may be read by our own coordinator (NNQ_DATA_ROOTS)
          env: embeddedDataRoots(config.dataset.source),
          say,
        };
        const code = await onCoordinator(session, (s) => trainOnCluster({ config, json, file }, opts, s, accuracy));
        if (code !== EXIT.ok) throw new CliError('', code);
        return;
      }
      // --local: this process trains; a first Ctrl-C stops it after the step, a second at once
      const stop = new AbortController();
      const onSignal = () => {
        if (stop.signal.aborted) process.exit(EXIT.interrupted); // a second Ctrl-C: now
        stop.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let code: number;
      try {
        const local = { out: opts.out, engine: env.NNQ_ENGINE, signal: stop.signal, accuracy, secondOrder };
        code = await trainInProcess(config, file, local);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      if (code !== EXIT.ok) throw new CliError('', code);
    });
}

/** Submit the run and follow it to its end; a first Ctrl-C stops following (the session cancels on its cluster). */
async function trainOnCluster(
  { config, json, file }: RunConfigFile & { file: string },
  opts: TrainOptions,
  { client, embedded, signal, cancelOnInterrupt }: CoordinatorSession,
  accuracy: boolean,
): Promise<number> {
  if (!embedded) say(`training ${config.name} on the coordinator at ${client.baseUrl}`);
  const run = await submit(client, json, file);
  const path = `/runs/${encodeURIComponent(run.id)}`;
  cancelOnInterrupt(`run ${run.id}`, () => client.post(`${path}/cancel`, undefined, RunViewSchema));
  const rows = run.batchSize ?? config.batchSize;
  say(`run ${run.id} submitted: ${run.totalSteps} steps of ${rows} rows in ${config.shards} shards`);
  const renderer = new ProgressRenderer(process.stdout, { accuracy });
  const { run: last, detached } = await followRun(client, run.id, renderer, {
    signal,
    accuracy,
    tolerateMs: embedded ? 5_000 : 30_000,
  });
  if (detached) {
    if (embedded) return EXIT.interrupted; // the session cancels the run and says so
    say(`\ninterrupted: detached; run ${run.id} continues on ${client.baseUrl} (nnq watch ${run.id})`);
    return EXIT.interrupted;
  }
  say(formatOutcome(last, accuracy));
  if (last.state === 'completed') {
    const bytes = await client.bytes(`${path}/model`);
    say(`model written to ${writeModelFile(opts.out, last.name, last.id, bytes)} (${bytes.length} bytes)`);
  }
  return exitCodeOf(last.state);
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

import { createTrainingEngine } from '@nnq/engine-onnx';
import { defaultFileAccess, loadDataset, unconfinedAccess, type Dataset } from '@nnq/data';
import { writeModel, type SecondOrderConfig } from '@nnq/nn';
import {
  NonFiniteError,
  RunSetupError,
  setupRun,
  trainLocal,
  type Evaluation,
  type RunConfig,
  type RunSetup,
} from '@nnq/training';
import { CliError, EXIT } from './cli-error';
import { ConfigFileError } from './config-file';
import { ProgressRenderer } from './progress-renderer';
import { formatEvaluation, formatOutcome, type RunView } from './run-view';
import { writeModelFile } from './model-output';

export interface LocalTrainOptions {
  out?: string;
  engine?: 'onnx' | 'reference';
  signal: AbortSignal;
  accuracy: boolean;
  /** lbfgs or hessian_free (config.optimizer is a stand-in then). */
  secondOrder?: SecondOrderConfig | null;
}

/**
 * `nnq train --local`: the in-process trainer (the same steps, shards and sums as the cluster), with
 * the cluster path's progress and model file. Returns the exit code.
 */
export async function trainInProcess(config: RunConfig, file: string, options: LocalTrainOptions): Promise<number> {
  const { dataset, setup } = prepare(config, file);
  const total = setup.plan.totalSteps;
  const epochs = total / setup.plan.stepsPerEpoch;
  const renderer = new ProgressRenderer(process.stdout, { accuracy: options.accuracy });
  const evaluations: Partial<Record<'validation' | 'test', Evaluation>> = {};
  let view: RunView = {
    id: 'local',
    name: config.name,
    state: 'running',
    step: 0,
    totalSteps: total,
    epoch: 0,
    epochs,
  };
  process.stdout.write(`training ${config.name} in this process: ${total} steps of ${config.batchSize} rows\n`);
  const started = performance.now();
  try {
    const result = await trainLocal(config, {
      dataset,
      engine: (spec) => createTrainingEngine(spec, { prefer: options.engine }),
      signal: options.signal,
      secondOrder: options.secondOrder,
      onStep: (r) => {
        const done = r.step + 1;
        const seconds = (performance.now() - started) / 1000;
        view = {
          ...view,
          step: done,
          epoch: r.epoch,
          ...(r.skipped ? {} : { loss: r.loss, accuracy: r.accuracy }),
          samplesPerSecond: seconds > 0 ? (done * config.batchSize) / seconds : undefined,
          etaSeconds: (seconds / done) * (total - done),
        };
        renderer.update(view);
      },
      onEvaluation: (e) => {
        if (e.split === 'train') return;
        evaluations[e.split] = e;
        if (e.step < total) renderer.note(formatEvaluation(e, options.accuracy), true);
      },
    });
    view = { ...view, state: 'completed', ...evaluations };
    renderer.finish(view);
    const stopped = result.stopped;
    if (stopped) process.stdout.write(`the optimizer stopped after step ${result.steps.length}: ${stopped}\n`);
    process.stdout.write(`${formatOutcome(view, options.accuracy)}\n`);
    const bytes = writeModel({
      spec: result.setup.spec,
      params: result.params,
      preprocessing: result.setup.preprocessing,
    });
    const out = writeModelFile(options.out, config.name, 'local', bytes);
    process.stdout.write(`model written to ${out} (${bytes.length} bytes, engine ${result.engine})\n`);
    return EXIT.ok;
  } catch (err) {
    if (options.signal.aborted) {
      view = { ...view, state: 'cancelled' };
      renderer.finish(view);
      process.stdout.write(`${formatOutcome(view, options.accuracy)}\n`);
      return EXIT.interrupted;
    }
    if (err instanceof NonFiniteError) {
      view = { ...view, state: 'failed', error: { reason: err.message, step: err.step } };
      renderer.finish(view);
      process.stdout.write(`${formatOutcome(view, options.accuracy)}\n`);
      return EXIT.failed;
    }
    throw err;
  }
}

/** Load the dataset and check the config against it, as the coordinator does on submit. */
function prepare(config: RunConfig, file: string): { dataset: Dataset; setup: RunSetup } {
  if (!config.dataset.source) {
    throw new CliError(
      `${file}: dataset.id names a dataset registered in Redis; --local needs a dataset.source`,
      EXIT.usage,
    );
  }
  let dataset: Dataset;
  try {
    // the user's own process reads the user's own files: no data roots, still only regular files
    // of at most NNQ_MAX_DATASET_BYTES (a coordinator serving others confines them, file-access.ts)
    dataset = loadDataset(config.dataset.source, unconfinedAccess(defaultFileAccess().maxBytes));
  } catch (err) {
    throw new CliError(`${file}: cannot load dataset.source: ${(err as Error).message}`, EXIT.usage);
  }
  try {
    return { dataset, setup: setupRun(config, dataset) };
  } catch (err) {
    if (err instanceof RunSetupError) throw new ConfigFileError(file, err.problems);
    throw err;
  }
}

import {
  fitPreprocessing,
  splitIndices,
  targetWidth,
  type Batch,
  type Dataset,
  type Preprocessing,
  type Splits,
} from '@nnq/data';
import { createRng, flatMask, initParams, outputUnits, paramLayout, type NetworkSpec } from '@nnq/nn';
import { ProblemsError } from '@nnq/problems';
import { curvatureBatch } from './curvature-signal';
import { fitCurveGrid, type FitCurveGrid } from './fit-curve';
import type { RunConfig } from './run-config';
import { RunPlan } from './run-plan';

/** Everything fixed at the start of a run, derived from its config and dataset alone. */
export interface RunSetup {
  spec: NetworkSpec;
  splits: Splits;
  preprocessing: Preprocessing;
  plan: RunPlan;
  paramCount: number;
  mask: Float32Array | null;
  /** The fixed inputs of a 1-D regression run's fit curve (fit-curve.ts); undefined for other runs. */
  curveGrid?: FitCurveGrid;
  /** The fixed batch of evaluation.curvature (curvature-signal.ts); undefined without it. */
  curvatureBatch?: Batch;
}

/** A run config that does not fit its dataset (input size, output units, task); every problem by path. */
export class RunSetupError extends ProblemsError {
  constructor(problems: string[]) {
    super('the run config does not fit its dataset', problems);
  }
}

/** Check the model against the dataset, split it, fit preprocessing on the train rows only. */
export function setupRun(config: RunConfig, dataset: Dataset): RunSetup {
  const spec = config.model;
  const problems: string[] = [];
  if (spec.inputSize !== dataset.features) {
    problems.push(`model.inputSize: is ${spec.inputSize}, the dataset has ${dataset.features} features per row`);
  }
  const outUnits = outputUnits(spec);
  const width = targetWidth(dataset);
  if (outUnits !== width) {
    problems.push(
      `model.layers[${spec.layers.length - 1}].units: ` +
        `the output layer has ${outUnits} units, the dataset's targets are ${width} wide` +
        (dataset.classes ? ` (${dataset.classes.length} classes)` : ''),
    );
  }
  const classification = spec.loss === 'softmax_cross_entropy' || spec.loss === 'sigmoid_binary_cross_entropy';
  if (classification && dataset.task !== 'classification') {
    problems.push(`model.loss: ${spec.loss} needs a classification dataset, this one is ${dataset.task}`);
  }
  if (problems.length) throw new RunSetupError(problems);
  let splits: Splits;
  try {
    splits = splitIndices(dataset.rows, {
      validation: config.dataset.validation,
      test: dataset.officialTest ? 0 : config.dataset.test,
      seed: config.seed,
      officialTest: dataset.officialTest,
    });
  } catch (err) {
    throw new RunSetupError([`dataset: ${(err as Error).message}`]);
  }
  let plan: RunPlan;
  try {
    plan = new RunPlan(splits.train.length, config.batchSize, config.shards, config.seed, config);
  } catch (err) {
    throw new RunSetupError([`batchSize: ${(err as Error).message}`]);
  }
  const preprocessing = fitPreprocessing(dataset, splits.train, {
    scale: config.dataset.preprocessing.scale,
    standardize: config.dataset.preprocessing.standardize,
  });
  const layout = paramLayout(spec);
  const curveGrid = fitCurveGrid(spec, dataset);
  const curvature = config.evaluation.curvature;
  const curvatureRows = curvature && curvatureBatch(dataset, splits, preprocessing, curvature);
  return {
    spec,
    splits,
    preprocessing,
    plan,
    paramCount: layout.size,
    mask: flatMask(spec, layout),
    curveGrid,
    curvatureBatch: curvatureRows,
  };
}

/** Initial parameters: drawn from the run's seed, so every replay starts identically. */
export function initialParams(config: RunConfig): Float32Array {
  return initParams(config.model, createRng((config.seed ^ 0x9e3779b9) >>> 0));
}

import { lossAndGrad as referenceLossAndGrad, type NetworkSpec } from '@nnq/nn';
import { compileTrainingStep, type OnnxTrainingStep, type StepResult, type TrainingStepOptions } from './training-step';

export type EngineKind = 'onnx' | 'reference';

export interface TrainingEngineOptions extends TrainingStepOptions {
  /** Engine to use when it works (default 'onnx'); env NNQ_ENGINE=reference forces the reference. */
  readonly prefer?: EngineKind;
  /** Batch size of the probe session created up front (default 1): proves onnxruntime works. */
  readonly probeBatch?: number;
  /** Environment to read NNQ_ENGINE from (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** What a worker computes gradients with. */
export interface TrainingEngine {
  /** The engine in use; may turn from 'onnx' to 'reference' if a later session cannot be created. */
  readonly kind: EngineKind;
  /** Why the reference path runs although onnx was preferred (log once, show in /health). */
  readonly fallbackReason?: string;
  /** Loss, correct count and summed gradient of one batch (grad is written into `grad` when given). */
  lossAndGrad(
    params: Float32Array,
    x: Float32Array,
    y: Float32Array,
    batch: number,
    grad?: Float32Array,
  ): Promise<StepResult>;
  /** Release onnxruntime sessions; idempotent. */
  dispose(): Promise<void>;
}

/**
 * The engine facade of the workers: onnxruntime when it loads, else libs/nn's reference
 * backprop, with the reason recorded. Both compute the same loss and summed gradient.
 */
export async function createTrainingEngine(
  spec: NetworkSpec,
  options: TrainingEngineOptions = {},
): Promise<TrainingEngine> {
  const env = options.env ?? process.env;
  if (options.prefer === 'reference') return new Engine(spec, null);
  const forced = env.NNQ_ENGINE;
  if (forced === 'reference') return new Engine(spec, null, 'NNQ_ENGINE=reference is set');
  if (forced !== undefined && forced !== '' && forced !== 'onnx') {
    throw new RangeError(`NNQ_ENGINE must be 'onnx' or 'reference', got '${forced}'`);
  }
  const step = compileTrainingStep(spec, options);
  try {
    await step.session(options.probeBatch ?? 1);
  } catch (err) {
    await step.dispose();
    return new Engine(spec, null, `onnxruntime-node unavailable: ${describe(err)}`);
  }
  return new Engine(spec, step);
}

class Engine implements TrainingEngine {
  constructor(
    private readonly spec: NetworkSpec,
    private step: OnnxTrainingStep | null,
    public fallbackReason?: string,
  ) {}

  get kind(): EngineKind {
    return this.step ? 'onnx' : 'reference';
  }

  async lossAndGrad(
    params: Float32Array,
    x: Float32Array,
    y: Float32Array,
    batch: number,
    grad?: Float32Array,
  ): Promise<StepResult> {
    if (this.step) {
      try {
        await this.step.session(batch);
      } catch (err) {
        // a session that cannot be created is an environment problem: degrade, do not fail the job
        const step = this.step;
        this.step = null;
        this.fallbackReason = `onnxruntime session for batch ${batch} failed: ${describe(err)}`;
        await step.dispose();
      }
    }
    if (this.step) return this.step.run(params, x, y, batch, grad);
    const r = referenceLossAndGrad(this.spec, params, x, y, batch, grad);
    return { loss: r.loss, correct: r.correct, grad: r.grad };
  }

  async dispose(): Promise<void> {
    await this.step?.dispose();
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0] : String(err);
}

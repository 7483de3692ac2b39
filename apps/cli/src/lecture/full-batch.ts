import {
  createOptimizerState,
  createRng,
  forward,
  initParams,
  lossAndGrad,
  parseOptimizerConfig,
  step,
  type NetworkSpec,
  type OptimizerConfigInput,
} from '@nnq/nn';

/**
 * Full-batch gradient descent on a small data set, as the lecture writes it: every step takes the
 * gradient of J(w) = 1/2 sum over all rows of (f*(x) - f(x; w))^2 and moves against it. The same
 * libs/nn forward, backward, initializers and optimizers as a run (no shards, no queues).
 */
export interface FullBatchOptions {
  /** Seed of the initial parameters (libs/nn initParams: He normal for ReLU layers, biases 0). */
  seed: number;
  steps: number;
  optimizer: OptimizerConfigInput;
  /** Start here instead of a random draw. */
  init?: Float32Array;
}

export interface FullBatchResult {
  params: Float32Array;
  /** J summed over the rows (the lecture's J) at the final parameters. */
  loss: number;
  /** The network's outputs at the final parameters, [rows, outUnits]. */
  outputs: Float32Array;
}

export function fitFullBatch(
  spec: NetworkSpec,
  data: { x: Float32Array; y: Float32Array; rows: number },
  options: FullBatchOptions,
): FullBatchResult {
  const params = options.init ? Float32Array.from(options.init) : initParams(spec, createRng(options.seed));
  const optimizer = parseOptimizerConfig(options.optimizer);
  const state = createOptimizerState(optimizer, params.length);
  const grad = new Float32Array(params.length);
  for (let t = 0; t < options.steps; t++) {
    // w <- w - lr dJ/dw (or the optimizer's rule), with the gradient summed over the whole set
    lossAndGrad(spec, params, data.x, data.y, data.rows, grad);
    step(params, grad, state, optimizer, optimizer.lr);
  }
  const { loss } = lossAndGrad(spec, params, data.x, data.y, data.rows, grad);
  return { params, loss, outputs: forward(spec, params, data.x, data.rows) };
}

/** Largest |f*(x) - f(x)| over the rows. */
export function maxError(outputs: Float32Array, targets: Float32Array | readonly number[]): number {
  let m = 0;
  for (let i = 0; i < outputs.length; i++) m = Math.max(m, Math.abs(outputs[i] - targets[i]));
  return m;
}

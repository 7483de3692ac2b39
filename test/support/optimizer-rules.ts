import type { OptimizerConfigInput } from '@nnq/nn';

/** One config of every update rule the kernel compiles, with and without weight decay and clipping. */
export const OPTIMIZER_RULES: OptimizerConfigInput[] = [
  { type: 'sgd', lr: 0.1 },
  { type: 'sgd', lr: 0.1, weightDecay: 0.05, clipNorm: 1 },
  { type: 'momentum', lr: 0.05, momentum: 0.9, weightDecay: 0.01 },
  { type: 'nesterov', lr: 0.05, momentum: 0.8, clipNorm: 2 },
  { type: 'adam', lr: 0.01 },
  { type: 'adam', lr: 0.01, weightDecay: 0.1, clipNorm: 0.5, beta1: 0.8, beta2: 0.99 },
  { type: 'adamw', lr: 0.01, weightDecay: 0.02 },
  { type: 'rmsprop', lr: 0.01, rho: 0.95, weightDecay: 0.01, epsilon: 1e-6 },
];

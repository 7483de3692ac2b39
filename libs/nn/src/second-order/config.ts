import { z } from 'zod';
import { parseConfig } from '@nnq/problems';
import { HessianFreeConfigSchema } from './hessian-free';
import { LbfgsConfigSchema } from './lbfgs';

/**
 * The second-order optimizers a run config may name in `optimizer` (beside the first-order ones
 * of optimizers.ts): they take whole outer steps over a batch, driven by loss, gradient and
 * curvature passes, so the run's trainer drives them (libs/training second-order-trainer.ts).
 */
export const SECOND_ORDER_TYPES = ['lbfgs', 'hessian_free'] as const;
export type SecondOrderType = (typeof SECOND_ORDER_TYPES)[number];

export const SecondOrderConfigSchema = z.discriminatedUnion('type', [LbfgsConfigSchema, HessianFreeConfigSchema]);
export type SecondOrderConfigInput = z.input<typeof SecondOrderConfigSchema>;
export type SecondOrderConfig = z.output<typeof SecondOrderConfigSchema>;

/** Is this (unvalidated) optimizer config one of the second-order ones? */
export function isSecondOrderType(type: unknown): type is SecondOrderType {
  return (SECOND_ORDER_TYPES as readonly unknown[]).includes(type);
}

/** Validate a second-order optimizer config; throws ConfigError naming each bad field. */
export function parseSecondOrderConfig(json: unknown): SecondOrderConfig {
  return parseConfig(SecondOrderConfigSchema, json, 'optimizer config');
}

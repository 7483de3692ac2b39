import { z } from 'zod';
import { parseConfig } from '@nnq/problems';

/**
 * Learning-rate schedules: lr(t) as a pure function of the step t = 0, 1, 2, ... (the t-th update).
 *
 *   peak     = baseLr, or baseLr * batch / baseBatch with scaleWithBatch (the linear scaling
 *              rule, Goyal et al. 2017, "Accurate, Large Minibatch SGD")
 *   warmup   lr(t) = peak * (t + 1) / warmupSteps for t < warmupSteps (linear, Goyal et al. 2017)
 *   then, with s = t - warmupSteps:
 *   constant lr = peak
 *   step     lr = peak * gamma^floor(s / everySteps)
 *   cosine   lr = minLr + (peak - minLr) * (1 + cos(pi * min(s, S) / S)) / 2,  S = totalSteps - warmupSteps
 *            (SGDR without restarts, Loshchilov & Hutter 2017; totalSteps counts the warmup too)
 */

const positiveInt = z.number().int('must be an integer').min(1, 'must be at least 1');
const common = {
  /** Linear warmup over this many steps (0 = none). */
  warmupSteps: z.number().int('must be an integer').min(0, 'must be at least 0').default(0),
  /** Linear scaling rule: multiply the base rate by batchSize / baseBatch. */
  scaleWithBatch: z.object({ baseBatch: positiveInt }).strict().optional(),
};

export const ScheduleConfigSchema = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('constant'), ...common }).strict(),
    z
      .object({
        type: z.literal('step'),
        ...common,
        everySteps: positiveInt,
        gamma: z.number().positive('must be greater than 0').max(1, 'must be at most 1'),
      })
      .strict(),
    z
      .object({
        type: z.literal('cosine'),
        ...common,
        totalSteps: positiveInt,
        minLr: z.number().min(0, 'must be at least 0').finite('must be finite').default(0),
      })
      .strict(),
  ])
  .superRefine((s, ctx) => {
    if (s.type === 'cosine' && s.totalSteps <= s.warmupSteps) {
      ctx.addIssue({
        code: 'custom',
        path: ['totalSteps'],
        message: `must exceed warmupSteps (${s.warmupSteps})`,
      });
    }
  });
export type ScheduleConfigInput = z.input<typeof ScheduleConfigSchema>;
export type ScheduleConfig = z.output<typeof ScheduleConfigSchema>;

/** Validate a schedule config; throws ConfigError naming each bad field. */
export function parseScheduleConfig(json: unknown): ScheduleConfig {
  return parseConfig(ScheduleConfigSchema, json, 'schedule config');
}

export interface ScheduleContext {
  /** The optimizer's base learning rate. */
  baseLr: number;
  /** Global batch size (needed by scaleWithBatch). */
  batchSize?: number;
}

/** The learning rate of update t (0-based). */
export function learningRate(schedule: ScheduleConfig, t: number, ctx: ScheduleContext): number {
  if (!Number.isInteger(t) || t < 0) throw new RangeError(`step must be a non-negative integer, got ${t}`);
  let peak = ctx.baseLr;
  if (schedule.scaleWithBatch) {
    if (ctx.batchSize === undefined) throw new RangeError('scaleWithBatch needs the batch size');
    peak *= ctx.batchSize / schedule.scaleWithBatch.baseBatch; // Goyal et al.: lr = baseLr * batch / baseBatch
  }
  const w = schedule.warmupSteps;
  if (t < w) return (peak * (t + 1)) / w; // linear warmup to the peak
  const s = t - w;
  switch (schedule.type) {
    case 'constant':
      return peak;
    case 'step':
      return peak * Math.pow(schedule.gamma, Math.floor(s / schedule.everySteps));
    case 'cosine': {
      const S = schedule.totalSteps - w;
      return schedule.minLr + ((peak - schedule.minLr) * (1 + Math.cos((Math.PI * Math.min(s, S)) / S))) / 2;
    }
  }
}

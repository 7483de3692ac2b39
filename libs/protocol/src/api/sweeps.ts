import { z } from 'zod';

/**
 * The sweeps part of the HTTP contract: POST /sweeps, GET /sweeps/:id and POST /sweeps/:id/cancel
 * answer a SweepView; GET /sweeps answers SweepSummary[]. The coordinator persists a SweepRecord
 * (the view without its leaderboard) as JSON in Redis (sweepState key).
 */

export const SWEEP_STATES = ['running', 'completed', 'cancelled', 'failed'] as const;
export const SweepStateSchema = z.enum(SWEEP_STATES);
export type SweepState = z.infer<typeof SweepStateSchema>;

/**
 * A trial's state: a run's (queued, running, completed, failed, cancelled), `pending` before its
 * run exists, and `stopped` when the sweep's early-stopping rule ended it.
 */
export const TRIAL_STATES = ['pending', 'queued', 'running', 'completed', 'stopped', 'failed', 'cancelled'] as const;
export const TrialStateSchema = z.enum(TRIAL_STATES);
export type TrialState = z.infer<typeof TrialStateSchema>;

/** A trial's values by search-space path (`optimizer.lr`, `layers[0].units`). */
export const TrialParamsSchema = z.record(z.string(), z.unknown());
export type TrialParams = z.infer<typeof TrialParamsSchema>;

export const SweepTrialSchema = z.object({
  index: z.number(),
  /** `<sweep>-t<index>`: the name of its run. */
  name: z.string(),
  params: TrialParamsSchema,
  state: TrialStateSchema,
  runId: z.string().optional(),
  createdAt: z.string(),
  finishedAt: z.string().optional(),
  /** Best objective value so far (on the objective's split). */
  best: z.number().optional(),
  /** Steps completed by its run, of totalSteps. */
  step: z.number(),
  totalSteps: z.number(),
  epoch: z.number(),
  epochs: z.number(),
  /** Validation objective as a loss (lower is better) by epoch: what early stopping reads. */
  curve: z.array(z.object({ epoch: z.number(), loss: z.number() })),
  /** Step of the last evaluation read from the run's history. */
  evaluatedStep: z.number(),
  /** ASHA rung epochs this trial has reported at. */
  reported: z.array(z.number()),
  stopReason: z.string().optional(),
  error: z.string().optional(),
});
export type SweepTrial = z.infer<typeof SweepTrialSchema>;

export const SweepObjectiveSchema = z.object({
  metric: z.enum(['accuracy', 'loss']),
  split: z.enum(['validation', 'test']),
  mode: z.enum(['max', 'min']),
});

/** A trial's loss at an ASHA rung (lower is better; a metric is negated to maximise). */
export const RungEntrySchema = z.object({ trial: z.number(), loss: z.number() });

const sweepFields = {
  id: z.string(),
  name: z.string(),
  state: SweepStateSchema,
  createdAt: z.string(),
  finishedAt: z.string().optional(),
  /** Trials the sweep will run (maxTrials, or the grid's size when smaller). */
  planned: z.number(),
  objective: SweepObjectiveSchema,
  /** The best trial so far. */
  best: z
    .object({ index: z.number(), runId: z.string().optional(), value: z.number(), params: TrialParamsSchema })
    .optional(),
  error: z.string().optional(),
};

/** A sweep as the coordinator stores it. */
export const SweepRecordSchema = z.object({
  ...sweepFields,
  /** The sweep config as submitted. */
  config: z.unknown(),
  trials: z.array(SweepTrialSchema),
  /** ASHA: the losses reported at each rung epoch, in report order. */
  rungs: z.record(z.string(), z.array(RungEntrySchema)),
});
export type SweepRecord = z.infer<typeof SweepRecordSchema>;

/** A sweep with its leaderboard: trials sorted by the objective. */
export const SweepViewSchema = SweepRecordSchema.extend({ leaderboard: z.array(SweepTrialSchema) });
export type SweepView = z.infer<typeof SweepViewSchema>;

/** A sweep in a list: no trials. */
export const SweepSummarySchema = z.object({ ...sweepFields, trialsStarted: z.number() });
export type SweepSummary = z.infer<typeof SweepSummarySchema>;
export const SweepListSchema = z.array(SweepSummarySchema);

/** GET /sweeps/:id/results.json: the sweep and its ranked trials, without what early stopping reads. */
export const SweepResultsSchema = z.object({
  ...z.object(sweepFields).pick({ id: true, name: true, state: true, createdAt: true, finishedAt: true }).shape,
  objective: SweepObjectiveSchema,
  best: sweepFields.best,
  trials: z.array(
    SweepTrialSchema.omit({ curve: true, reported: true, evaluatedStep: true }).extend({ rank: z.number() }),
  ),
});
export type SweepResults = z.infer<typeof SweepResultsSchema>;

export function isSweepTerminal(state: SweepState): boolean {
  return state !== 'running';
}

export function isTrialActive(state: TrialState): boolean {
  return state === 'pending' || state === 'queued' || state === 'running';
}

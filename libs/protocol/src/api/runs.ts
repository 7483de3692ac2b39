import { z } from 'zod';

/**
 * The runs part of the HTTP contract: GET /runs, GET /runs/:id, POST /runs, POST /runs/:id/cancel
 * answer a RunRecord (a list for GET /runs); GET /runs/:id/history answers HistoryEntry[]. The
 * coordinator persists the same RunRecord as JSON in Redis (runState key).
 */

export const RUN_STATES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export const RunStateSchema = z.enum(RUN_STATES);
export type RunState = z.infer<typeof RunStateSchema>;

export const SPLIT_NAMES = ['train', 'validation', 'test'] as const;
export type SplitName = (typeof SPLIT_NAMES)[number];

/** Loss and accuracy of a split at one parameter version. */
export const EvaluationSchema = z.object({
  split: z.enum(SPLIT_NAMES),
  step: z.number(),
  /** Mean loss per row. */
  loss: z.number(),
  /** correct / rows (classification; 0 for regression). */
  accuracy: z.number(),
  rows: z.number(),
  /**
   * With evaluation.curvature, on the first evaluation of a step: the top Hessian eigenvalue
   * (power iteration, largest magnitude) and Hutchinson's trace estimate of the mean training
   * loss on the run's fixed curvature batch, at this version.
   */
  hessianTopEigenvalue: z.number().optional(),
  hessianTrace: z.number().optional(),
});
export type Evaluation = z.infer<typeof EvaluationSchema>;

/** Why a run failed, and at which step. */
export const RunErrorSchema = z.object({ reason: z.string(), step: z.number() });

/**
 * One row of a run's model summary (libs/nn modelSummary, as Keras' model.summary() prints it):
 * layer n (0 is the input), its kind, its output shape per sample, its parameters.
 */
export const LayerSummarySchema = z.object({
  index: z.number(),
  kind: z.string(),
  outputShape: z.array(z.number()),
  params: z.number(),
});
export type LayerSummaryView = z.infer<typeof LayerSummarySchema>;

/** A run as the API shows it. */
export const RunRecordSchema = z.object({
  id: z.string(),
  name: z.string(),
  state: RunStateSchema,
  createdAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  /** Steps completed (= parameter version). */
  step: z.number(),
  totalSteps: z.number(),
  epoch: z.number(),
  epochs: z.number(),
  batchSize: z.number(),
  shards: z.number(),
  datasetId: z.string(),
  paramCount: z.number(),
  /** The network layer by layer, set at submission (runs submitted before it was recorded have none). */
  model: z.array(LayerSummarySchema).optional(),
  /** Mean loss and accuracy of the last step's batch. */
  loss: z.number().optional(),
  accuracy: z.number().optional(),
  validation: EvaluationSchema.optional(),
  test: EvaluationSchema.optional(),
  samplesPerSecond: z.number().optional(),
  etaSeconds: z.number().optional(),
  /** Last step whose parameters were checkpointed. */
  checkpointStep: z.number().optional(),
  /** The engine and version that computed the run's shards (`onnxruntime 1.30.0`), once its first shard is in. */
  engine: z.string().optional(),
  skippedSteps: z.number(),
  /** Why a second-order optimizer (lbfgs, hessian_free) ended the run before its last step (converged, no decrease). */
  stopped: z.string().optional(),
  error: RunErrorSchema.optional(),
});
export type RunRecord = z.infer<typeof RunRecordSchema>;
export const RunListSchema = z.array(RunRecordSchema);

/** A step line of a run's history. */
export const StepEntrySchema = z.object({
  type: z.literal('step'),
  step: z.number(),
  epoch: z.number(),
  loss: z.number(),
  accuracy: z.number(),
  lr: z.number(),
  gradNorm: z.number(),
  /** Time inside the step: dispatch to publish. */
  seconds: z.number(),
  /** When the step ended (ms since the epoch): step rates from wall time, bookkeeping included. */
  at: z.number().optional(),
  skipped: z.boolean().optional(),
});
export type StepEntry = z.infer<typeof StepEntrySchema>;

/**
 * A 1-D regression run's prediction against its target on a fixed grid of inputs (its rows sorted
 * by x, at most 200), at one evaluation: what the dashboard draws.
 */
export const FitCurveSchema = z.object({
  x: z.array(z.number()),
  target: z.array(z.number()),
  prediction: z.array(z.number()),
});
export type FitCurve = z.infer<typeof FitCurveSchema>;

/** An evaluation line of a run's history; the first of an evaluation carries the fit curve of a 1-D regression. */
export const EvaluationEntrySchema = EvaluationSchema.extend({
  type: z.literal('evaluation'),
  curve: FitCurveSchema.optional(),
});

/** One line of a run's history. */
export const HistoryEntrySchema = z.discriminatedUnion('type', [StepEntrySchema, EvaluationEntrySchema]);
export type HistoryEntry = z.infer<typeof HistoryEntrySchema>;
export const HistorySchema = z.array(HistoryEntrySchema);

export function isTerminal(state: RunState): boolean {
  return state === 'completed' || state === 'failed' || state === 'cancelled';
}

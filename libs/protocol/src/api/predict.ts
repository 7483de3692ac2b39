import { z } from 'zod';

/** Body of POST /runs/:id/predict: rows of raw features, as the dataset holds them. */
export const PredictRequestSchema = z
  .object({
    inputs: z
      .array(z.array(z.number().refine(Number.isFinite, 'must be a finite number')).min(1, 'must not be empty'))
      .min(1, 'must hold at least one row')
      .max(10_000, 'must hold at most 10000 rows'),
  })
  .strict();
export type PredictRequest = z.infer<typeof PredictRequestSchema>;

/** What POST /runs/:id/predict answers (and `nnq predict` prints). */
export const PredictionSchema = z.object({
  /** Network outputs per row (probabilities for softmax / sigmoid outputs). */
  outputs: z.array(z.array(z.number())),
  /** Class names of the argmax output, for classification models. */
  labels: z.array(z.string()).optional(),
});
export type Prediction = z.infer<typeof PredictionSchema>;

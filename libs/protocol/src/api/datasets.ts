import { z } from 'zod';

/** What POST /datasets and GET /datasets/:id answer (GET /datasets: a list): the id and the shape, not the rows. */
export const DatasetSummarySchema = z.object({
  /** Content hash (sha256 hex): a run config names it as `dataset: {id}`. */
  id: z.string(),
  /** false when the same rows were registered before (nothing was written). */
  created: z.boolean().optional(),
  name: z.string().optional(),
  rows: z.number(),
  features: z.number(),
  task: z.enum(['classification', 'regression']),
  classes: z.array(z.string()).nullable(),
  /** Where the rows came from: a dataset source (a file, synthetic) or an upload. */
  source: z.unknown(),
  registeredAt: z.string(),
});
export type DatasetSummary = z.infer<typeof DatasetSummarySchema>;
export const DatasetListSchema = z.array(DatasetSummarySchema);

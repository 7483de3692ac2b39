import { PreprocessingSchema } from '@nnq/data';
import { NetworkSpecSchema } from '@nnq/nn';
import { z } from 'zod';

/**
 * What a worker needs to compute any shard of a run, written once by the coordinator when the
 * run starts (Redis key runManifest). Split row lists are separate uint32 blobs (runSplit).
 */
export const RunManifestSchema = z
  .object({
    runId: z.string(),
    spec: NetworkSpecSchema,
    datasetId: z.string(),
    preprocessing: PreprocessingSchema,
    seed: z.number().int(),
    batchSize: z.number().int().min(1),
    shards: z.number().int().min(1),
    paramCount: z.number().int().min(1),
    /** Precision of the shard gradients written to Redis (run config gradientTransfer). */
    gradientTransfer: z.enum(['float32', 'bfloat16', 'float16']).optional(),
    splitRows: z.object({ train: z.number().int(), validation: z.number().int(), test: z.number().int() }),
    /**
     * Rows per evaluation shard (run config evaluation.rowsPerShard): workers check an evaluation
     * job's range against it. Absent from manifests written before it: then only the split's size.
     */
    evalRowsPerShard: z.number().int().min(1).optional(),
  })
  .strict();
export type RunManifest = z.infer<typeof RunManifestSchema>;

import { z } from 'zod';

/** What a worker announces in its heartbeat. */
export const WorkerInfoSchema = z.object({
  id: z.string().min(1),
  host: z.string(),
  pid: z.number().int(),
  concurrency: z.number().int().min(1),
  version: z.string(),
  /** Port of the worker's own /health and /metrics server. */
  port: z.number().int().min(0),
  engine: z.string(),
  startedAt: z.string(),
  lastSeen: z.string(),
});
export type WorkerInfo = z.infer<typeof WorkerInfoSchema>;

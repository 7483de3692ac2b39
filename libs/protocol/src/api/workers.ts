import { z } from 'zod';
import { WorkerInfoSchema } from '../worker-info';

/** What GET /workers answers: the workers whose heartbeat has not expired (WorkerInfo, as each announces it). */
export const WorkerListSchema = z.array(WorkerInfoSchema);

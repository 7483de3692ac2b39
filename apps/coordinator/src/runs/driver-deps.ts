import type { KeySchema } from '@nnq/protocol';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { CoordinatorMetrics } from '../coordinator.metrics';
import type { RunBlobs } from './run-blobs';
import type { RunStore } from './run-store.service';
import type { ShardWaiter } from './shard-waiter';

/** What a run's driver (unsliced and sliced steps alike) works with. */
export interface DriverDeps {
  redis: Redis;
  keys: KeySchema;
  queue: Queue;
  waiter: ShardWaiter;
  store: RunStore;
  metrics: CoordinatorMetrics;
  dataDir: string;
  /** Where checkpoints and the model go (Redis or NNQ_DATA_DIR). */
  blobs: RunBlobs;
  /** Re-queue a shard not done this long after dispatch (0 = never). */
  stragglerMs: number;
}

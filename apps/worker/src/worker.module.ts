import { BullModule } from '@nestjs/bullmq';
import { Module, type DynamicModule } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import {
  ClusterCoreModule,
  EXTRA_HEALTH,
  HealthController,
  nnqVersion,
  bullConnection,
  type NnqConfig,
} from '@nnq/cluster';
import { KeySchema, SHARD_QUEUE } from '@nnq/protocol';
import type { ConnectionOptions } from 'bullmq';
import { HeartbeatService, newWorkerId } from './heartbeat.service';
import { RunContextService } from './shards/run-context.service';
import { ShardProcessor } from './shards/shard.processor';
import { PrefetchPolicy } from './shards/prefetch';
import { WorkerMetrics } from './worker.metrics';
import { WORKER_IDENTITY, type WorkerIdentity } from './worker-identity';

@Module({})
export class WorkerModule {
  static forRoot(config: NnqConfig): DynamicModule {
    const keys = new KeySchema(config.NNQ_PREFIX, { cluster: !!config.REDIS_CLUSTER_NODES });
    return {
      module: WorkerModule,
      imports: [
        ClusterCoreModule.forRoot({ app: 'worker', config }),
        // ioredis 6 options (or a Cluster), typed by BullMQ against its own client interface
        BullModule.forRoot({
          connection: bullConnection(config) as ConnectionOptions,
          prefix: keys.bullPrefix(),
        }),
        BullModule.registerQueue({ name: SHARD_QUEUE }),
      ],
      controllers: [HealthController],
      providers: [
        RunContextService,
        WorkerMetrics,
        ShardProcessor,
        { provide: PrefetchPolicy, useValue: new PrefetchPolicy(config.NNQ_WORKER_CONCURRENCY) },
        {
          provide: WORKER_IDENTITY,
          inject: [ShardProcessor],
          useFactory: (p: ShardProcessor): WorkerIdentity => ({
            id: newWorkerId(),
            version: nnqVersion(),
            engine: () => p.pool.engine,
          }),
        },
        {
          // the compute engine in /health: onnx, or the reference path and why
          provide: EXTRA_HEALTH,
          inject: [ShardProcessor, HealthIndicatorService],
          useFactory: (p: ShardProcessor, h: HealthIndicatorService) => () => [
            () =>
              h.check('engine').up({
                kind: p.pool.engine,
                ...(p.pool.fallbackReason ? { fallbackReason: p.pool.fallbackReason } : {}),
              }),
          ],
        },
        HeartbeatService,
      ],
    };
  }
}

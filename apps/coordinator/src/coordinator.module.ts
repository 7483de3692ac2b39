import { BullModule } from '@nestjs/bullmq';
import { Module, type DynamicModule } from '@nestjs/common';
import { ClusterCoreModule, HealthController, KEYS, REDIS, bullConnection, type NnqConfig } from '@nnq/cluster';
import { KeySchema, SHARD_QUEUE } from '@nnq/protocol';
import type { ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { APP_GUARD } from '@nestjs/core';
import { ApiTokenGuard } from './auth/api-token.guard';
import { JsonBodyGuard } from './http/json-body.guard';
import { CoordinatorMetrics } from './coordinator.metrics';
import { DashboardFeed } from './dashboard/dashboard-feed.service';
import { DashboardController } from './dashboard/dashboard.controller';
import { DatasetsController } from './datasets/datasets.controller';
import { DatasetsService } from './datasets/datasets.service';
import { QueueMetrics } from './metrics/queue.metrics';
import { createRunBlobs, RUN_BLOBS } from './runs/run-blobs';
import { RunRemoval } from './runs/run-removal.service';
import { RunStore } from './runs/run-store.service';
import { RunsController } from './runs/runs.controller';
import { RunsService } from './runs/runs.service';
import { SweepStore } from './sweeps/sweep-store.service';
import { SweepsController } from './sweeps/sweeps.controller';
import { SweepsService } from './sweeps/sweeps.service';
import { WorkersController } from './workers/workers.controller';
import { WorkersService } from './workers/workers.service';
import { ShardEvents } from './shard-events.service';

@Module({})
export class CoordinatorModule {
  static forRoot(config: NnqConfig): DynamicModule {
    const keys = new KeySchema(config.NNQ_PREFIX, { cluster: !!config.REDIS_CLUSTER_NODES });
    return {
      module: CoordinatorModule,
      imports: [
        ClusterCoreModule.forRoot({ app: 'coordinator', config }),
        // ioredis 6 options (or a Cluster), typed by BullMQ against its own client interface
        BullModule.forRoot({
          connection: bullConnection(config) as ConnectionOptions,
          prefix: keys.bullPrefix(),
        }),
        BullModule.registerQueue({ name: SHARD_QUEUE }),
      ],
      controllers: [
        HealthController,
        WorkersController,
        RunsController,
        DashboardController,
        SweepsController,
        DatasetsController,
      ],
      providers: [
        { provide: APP_GUARD, useClass: ApiTokenGuard },
        { provide: APP_GUARD, useClass: JsonBodyGuard },
        WorkersService,
        RunStore,
        // checkpoints and models: Redis, or files under NNQ_DATA_DIR (NNQ_RUN_STORE)
        {
          provide: RUN_BLOBS,
          useFactory: (redis: Redis, k: KeySchema) => createRunBlobs(config, redis, k),
          inject: [REDIS, KEYS],
        },
        ShardEvents,
        RunsService,
        RunRemoval,
        CoordinatorMetrics,
        QueueMetrics,
        DashboardFeed,
        SweepStore,
        SweepsService,
        DatasetsService,
      ],
    };
  }
}

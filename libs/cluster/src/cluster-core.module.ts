import { Global, Inject, Logger, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { loadConfig, redactUrl, type NnqConfig } from '@nnq/config';
import { KeySchema } from '@nnq/protocol';
import type { Redis } from 'ioredis';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { MetricsController } from './metrics.controller';
import { closeBullConnections, createRedisClient } from './redis';
import { RedisHealthIndicator } from './redis.health';
import { KEYS, METRICS_REGISTRY, NNQ_CONFIG, REDIS } from './tokens';

export interface ClusterCoreOptions {
  /** Process role, used in the Redis connection name and the `app` label of metrics. */
  app: 'coordinator' | 'worker';
  /** Parsed configuration; defaults to the validated environment. */
  config?: NnqConfig;
}

class RedisCloser implements OnApplicationShutdown {
  private readonly logger = new Logger('Redis');
  constructor(@Inject(REDIS) private readonly redis: Redis) {}
  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch((err: Error) => this.logger.warn(`quit failed: ${err.message}`));
    await closeBullConnections();
  }
}

/**
 * Config, the Redis connection, the key schema, the metrics registry and /metrics: what every
 * nnq process needs (each app declares the HealthController itself, so it can add indicators).
 * Configuration is validated here, so a bad variable stops boot.
 */
@Global()
@Module({})
export class ClusterCoreModule {
  static forRoot(options: ClusterCoreOptions): DynamicModule {
    const config = options.config ?? loadConfig();
    const logger = new Logger('ClusterCore');
    return {
      module: ClusterCoreModule,
      imports: [TerminusModule],
      controllers: [MetricsController],
      providers: [
        { provide: NNQ_CONFIG, useValue: config },
        { provide: KEYS, useValue: new KeySchema(config.NNQ_PREFIX, { cluster: !!config.REDIS_CLUSTER_NODES }) },
        {
          provide: REDIS,
          useFactory: () => {
            const redis = createRedisClient(config, `nnq-${options.app}`);
            redis.on('error', (err: Error) => logger.warn(`Redis ${redactUrl(config.REDIS_URL)}: ${err.message}`));
            return redis;
          },
        },
        {
          provide: METRICS_REGISTRY,
          useFactory: () => {
            const registry = new Registry();
            registry.setDefaultLabels({ app: options.app });
            collectDefaultMetrics({ register: registry });
            // promtool check metrics: no _total on gauges; each is the sum of the labelled gauge without it
            for (const name of [
              'nodejs_active_handles_total',
              'nodejs_active_requests_total',
              'nodejs_active_resources_total',
            ])
              registry.removeSingleMetric(name);
            return registry;
          },
        },
        RedisCloser,
        RedisHealthIndicator,
      ],
      exports: [NNQ_CONFIG, KEYS, REDIS, METRICS_REGISTRY, RedisHealthIndicator, TerminusModule],
    };
  }
}

// the apps' Nest modules read the environment's config through here too (it is @nnq/config's)
export * from '@nnq/config';
export * from './cluster-core.module';
export * from './health.controller';
export * from './metrics.controller';
export * from './redis';
export * from './redis.health';
export * from './tokens';
export * from './bootstrap';
export * from './http-guard';

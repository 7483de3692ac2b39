export * from './evaluation';
export * from './local-trainer';
export * from './run-config';
export * from './run-plan';
export * from './run-setup';
export * from './shard-compute';
export * from './step-reduce';

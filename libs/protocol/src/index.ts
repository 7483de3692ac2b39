export * from './keys';
export * from './queues';
export * from './shard-result';
export * from './tensor-codec';
export * from './worker-info';
export * from './jobs';
export * from './half';

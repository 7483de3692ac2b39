export * from './keys';
export * from './queues';
export * from './tensor-codec';
export * from './worker-info';

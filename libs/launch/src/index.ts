export * from './node-args';
export * from './redis-probe';
export * from './throwaway-redis';

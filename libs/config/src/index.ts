export * from './config';
export * from './redis-url';
export * from './version';

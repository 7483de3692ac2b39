/** The HTTP contract of the coordinator: every request and answer body, one zod schema each. */
export * from './runs';
export * from './sweeps';
export * from './datasets';
export * from './workers';
export * from './errors';
export * from './answers';
export * from './predict';

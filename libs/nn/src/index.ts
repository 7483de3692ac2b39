export * from './spec';
export * from './layout';
export * from './rng';
export * from './activations';
export * from './losses';
export * from './network';
export * from './init';

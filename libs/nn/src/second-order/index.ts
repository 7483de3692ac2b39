export * from './activation-r';
export * from './curvature-network';
export * from './hessian-vector';
export * from './objective';
export * from './line-search';
export * from './lbfgs';
export * from './hessian-free';
export * from './state-file';

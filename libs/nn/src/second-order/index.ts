export * from './activation-r';
export * from './curvature-network';
export * from './hessian-vector';

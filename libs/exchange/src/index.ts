export * from './commit-slice';
export * from './plan-check';
export * from './set-result';
export * from './slice-reducer';
export * from './replica';
export * from './engine-claim';
export * from './step-summary';
export * from './framed-value';

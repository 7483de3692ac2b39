/** Injection tokens shared by the apps. */
/** The validated NnqConfig (@nnq/config's loadConfig). */
export const NNQ_CONFIG = Symbol('NNQ_CONFIG');
export const REDIS = Symbol('REDIS');
export const KEYS = Symbol('KEYS');
export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');
/** Optional: () => HealthIndicatorFunction[] added to /health by an app. */
export const EXTRA_HEALTH = Symbol('EXTRA_HEALTH');

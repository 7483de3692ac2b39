/** Injection tokens shared by the apps. */
export const REDIS = Symbol('REDIS');
export const KEYS = Symbol('KEYS');
export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');
/** Optional: () => HealthIndicatorFunction[] added to /health by an app. */
export const EXTRA_HEALTH = Symbol('EXTRA_HEALTH');

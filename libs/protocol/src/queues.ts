/** BullMQ queue names. BullMQ adds its own `bull:` segment after the deployment prefix. */
export const SHARD_QUEUE = 'nnq-shards';

/** Job names on the shard queue. */
export const JOB_GRADIENT = 'gradient';
export const JOB_EVALUATE = 'evaluate';
export const JOB_REDUCE = 'reduce';
export const JOB_PASS_GRADIENT = 'pass-gradient';
export const JOB_CURVATURE = 'curvature';

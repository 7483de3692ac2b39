import { ProblemsError } from '@nnq/problems';
import { z } from 'zod';

const port = (name: string, dflt: number) =>
  z
    .string()
    .default(String(dflt))
    .refine((s) => /^\d{1,5}$/.test(s) && Number(s) <= 65535, { message: `${name} must be an integer port 0-65535` })
    .transform(Number);

const positiveInt = (name: string, dflt: number, min = 1) =>
  z
    .string()
    .default(String(dflt))
    .refine((s) => /^\d+$/.test(s) && Number(s) >= min, { message: `${name} must be an integer >= ${min}` })
    .transform(Number);

/** Environment variables of every nnq process; each app reads the slice it needs. */
export const EnvSchema = z.object({
  REDIS_URL: z
    .string()
    .default('redis://127.0.0.1:6379')
    .refine((s) => /^rediss?:\/\/[^\s]+$/.test(s) && URL.canParse(s), {
      message: 'REDIS_URL must be a URL of the form redis://[user:password@]host:port[/db] or rediss://... (TLS)',
    }),
  /**
   * Redis Cluster mode: comma-separated seed nodes `host:port,host:port`; the client discovers the
   * rest. User, password and TLS still come from REDIS_URL (its host is then only a label).
   */
  REDIS_CLUSTER_NODES: z
    .string()
    .refine((s) => s.split(',').every((n) => /^[^\s,:]+:\d{1,5}$/.test(n.trim()) && Number(n.split(':')[1]) <= 65535), {
      message:
        'REDIS_CLUSTER_NODES must be comma-separated host:port seed nodes of a Redis Cluster, ' +
        'e.g. redis-1:6379,redis-2:6379',
    })
    .optional(),
  NNQ_PREFIX: z
    .string()
    .default('nnq')
    .refine((s) => /^[A-Za-z0-9_.-]{1,64}$/.test(s), {
      message: 'NNQ_PREFIX must be 1-64 characters of [A-Za-z0-9_.-]',
    }),
  NNQ_HOST: z.string().min(1).default('127.0.0.1'),
  NNQ_PORT: port('NNQ_PORT', 3000),
  NNQ_WORKER_PORT: port('NNQ_WORKER_PORT', 0),
  NNQ_WORKER_CONCURRENCY: positiveInt('NNQ_WORKER_CONCURRENCY', 1),
  NNQ_HEARTBEAT_TTL_MS: positiveInt('NNQ_HEARTBEAT_TTL_MS', 10_000, 500),
  /** BullMQ job lock of a worker; a dead worker's job runs again after at most 1.5x this. */
  NNQ_LOCK_DURATION_MS: positiveInt('NNQ_LOCK_DURATION_MS', 30_000, 1000),
  /** A shard not done this long after its step was dispatched is queued again (straggler); 0 = never. */
  NNQ_STRAGGLER_MS: positiveInt('NNQ_STRAGGLER_MS', 0, 0),
  /** Fault injection (chaos tests): a worker sleeps this long before each gradient shard and second-order pass job. */
  NNQ_CHAOS_SHARD_DELAY_MS: positiveInt('NNQ_CHAOS_SHARD_DELAY_MS', 0, 0),
  /** Fault injection (chaos tests): a replica holds each step's update this long, applied but not finished. */
  NNQ_CHAOS_REPLICA_HOLD_MS: positiveInt('NNQ_CHAOS_REPLICA_HOLD_MS', 0, 0),
  /** Memory one shard job of a worker may use (MB): runs whose estimate exceeds it are refused (memory-budget.ts). */
  NNQ_WORKER_MEMORY_MB: positiveInt('NNQ_WORKER_MEMORY_MB', 2048, 16),
  /** Memory the coordinator may hold for a run's parameters and optimizer state (MB); larger networks are refused. */
  NNQ_COORDINATOR_MEMORY_MB: positiveInt('NNQ_COORDINATOR_MEMORY_MB', 2048, 16),
  /** A shard job whose worker died this many times (its lock lapsed) fails, and its run with it. */
  NNQ_MAX_WORKER_DEATHS: positiveInt('NNQ_MAX_WORKER_DEATHS', 2, 1),
  NNQ_API_TOKEN: z.string().min(16, 'NNQ_API_TOKEN must be at least 16 characters').optional(),
  NNQ_ALLOW_PUBLIC_WITHOUT_TOKEN: z.enum(['0', '1']).default('0'),
  /**
   * Host names the HTTP servers answer to besides the loopback names (and NNQ_HOST when it is a
   * name), comma-separated: a Host header naming anything else is refused (DNS rebinding).
   */
  NNQ_ALLOWED_HOSTS: z
    .string()
    .default('')
    .refine((s) => s.split(',').every((h) => !h.trim() || /^[A-Za-z0-9.-]+$|^\[[0-9A-Fa-f:.]+\]$/.test(h.trim())), {
      message: 'NNQ_ALLOWED_HOSTS must be comma-separated host names without port or scheme, e.g. nnq.example.com',
    }),
  NNQ_DATA_DIR: z.string().min(1).default('.nnq'),
  /**
   * Where the coordinator keeps checkpoints and models: `redis` (any coordinator on the same Redis
   * resumes the runs) or `files` under NNQ_DATA_DIR. Unset: `files` when NNQ_DATA_DIR is set, else `redis`.
   */
  NNQ_RUN_STORE: z.enum(['redis', 'files']).optional(),
  /** Finished runs older than this many days are removed with their files (0 keeps them for ever). */
  NNQ_RUN_RETENTION_DAYS: positiveInt('NNQ_RUN_RETENTION_DAYS', 30, 0),
  /**
   * Seconds a finished run's labelled series stay on /metrics before they are removed, so that a
   * scraper sees the run's last values (0 removes them at the run's end).
   */
  NNQ_METRICS_LINGER_SECONDS: positiveInt('NNQ_METRICS_LINGER_SECONDS', 60, 0),
  /**
   * Directories dataset files may be read from, `:`-separated like PATH (symbolic links resolved,
   * then checked); unset: NNQ_DATA_DIR and /usr/share/datasets/fashion-mnist.
   */
  NNQ_DATA_ROOTS: z
    .string()
    .refine((s) => !/[\0\n]/.test(s), { message: 'NNQ_DATA_ROOTS must be directories separated by ":"' })
    .optional(),
  /** Most bytes one dataset file may hold (and a gzip file inflate to); default 256 MiB. */
  NNQ_MAX_DATASET_BYTES: positiveInt('NNQ_MAX_DATASET_BYTES', 256 * 1024 * 1024),
  /**
   * Set by `nnq up` / `nnq train` for the coordinator of their local cluster when the Redis at
   * REDIS_URL is a throwaway redis-server they started: should they die without stopping it
   * (SIGKILL), the coordinator shuts that Redis down as it exits with them (NNQ_EXIT_WITH_PARENT).
   */
  NNQ_OWNS_REDIS: z.enum(['0', '1']).default('0'),
  NNQ_ENGINE: z.enum(['onnx', 'reference']).default('onnx'),
  NNQ_LOG_LEVEL: z.enum(['error', 'warn', 'log', 'debug', 'verbose']).default('log'),
});
export type NnqConfig = z.output<typeof EnvSchema>;

/** Checks across variables. */
const CheckedEnvSchema = EnvSchema.superRefine((c, ctx) => {
  // a Redis Cluster serves database 0 only
  if (c.REDIS_CLUSTER_NODES && URL.canParse(c.REDIS_URL) && !/^\/?0?$/.test(new URL(c.REDIS_URL).pathname))
    ctx.addIssue({
      code: 'custom',
      path: ['REDIS_CLUSTER_NODES'],
      message: 'REDIS_CLUSTER_NODES is set but REDIS_URL names a database; a Redis Cluster has only database 0',
    });
});

/** A bad environment: every variable that is wrong, with its expected form. */
export class ConfigError extends ProblemsError {
  constructor(problems: string[]) {
    super('invalid configuration', problems);
  }
}

/** Parse the environment; throws ConfigError naming each bad variable and its expected form. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): NnqConfig {
  const known = Object.fromEntries(
    Object.keys(EnvSchema.shape)
      .filter((k) => env[k] !== undefined && env[k] !== '')
      .map((k) => [k, env[k]]),
  );
  const result = CheckedEnvSchema.safeParse(known);
  if (result.success)
    return { ...result.data, NNQ_RUN_STORE: result.data.NNQ_RUN_STORE ?? (known.NNQ_DATA_DIR ? 'files' : 'redis') };
  throw new ConfigError(
    result.error.issues.map((i) => {
      const name = String(i.path[0] ?? '');
      const got = name && known[name] !== undefined ? ` (got ${JSON.stringify(known[name])})` : '';
      return `${name}: ${i.message}${got}`;
    }),
  );
}

/**
 * BullMQ lock settings for the shard processor, read when its decorator runs (module load, before
 * Nest boots); a bad value is refused by loadConfig at boot, so the fallback here never runs.
 */
export function lockSettings(env: NodeJS.ProcessEnv = process.env): {
  lockDuration: number;
  stalledInterval: number;
  maxStalledCount: number;
} {
  const raw = Number(env.NNQ_LOCK_DURATION_MS);
  const lockDuration = Number.isInteger(raw) && raw >= 1000 ? raw : 30_000;
  const deaths = Number(env.NNQ_MAX_WORKER_DEATHS);
  // a job that stalled (its worker died: the lock lapsed) this many times fails for good instead of
  // killing the next worker: BullMQ fails a job once it has stalled more than maxStalledCount times
  const maxStalledCount = Number.isInteger(deaths) && deaths >= 1 ? deaths - 1 : 1;
  // locks are renewed every lockDuration/2 by the free event loop; the stalled check runs as often
  return { lockDuration, stalledInterval: Math.floor(lockDuration / 2), maxStalledCount };
}

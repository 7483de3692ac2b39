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
  NNQ_API_TOKEN: z.string().min(16, 'NNQ_API_TOKEN must be at least 16 characters').optional(),
  NNQ_ALLOW_PUBLIC_WITHOUT_TOKEN: z.enum(['0', '1']).default('0'),
  NNQ_DATA_DIR: z.string().min(1).default('.nnq'),
  NNQ_ENGINE: z.enum(['onnx', 'reference']).default('onnx'),
  NNQ_LOG_LEVEL: z.enum(['error', 'warn', 'log', 'debug', 'verbose']).default('log'),
});
export type NnqConfig = z.output<typeof EnvSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Parse the environment; throws ConfigError naming each bad variable and its expected form. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): NnqConfig {
  const known = Object.fromEntries(
    Object.keys(EnvSchema.shape)
      .filter((k) => env[k] !== undefined && env[k] !== '')
      .map((k) => [k, env[k]]),
  );
  const result = EnvSchema.safeParse(known);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((i) => {
      const name = String(i.path[0] ?? '');
      const got = name && known[name] !== undefined ? ` (got ${JSON.stringify(known[name])})` : '';
      return `${name}: ${i.message}${got}`;
    }),
  );
}

/** Injection token of the validated NnqConfig. */
export const NNQ_CONFIG = Symbol('NNQ_CONFIG');

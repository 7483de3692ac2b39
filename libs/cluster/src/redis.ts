import { Redis, type RedisOptions } from 'ioredis';

/**
 * ioredis options from a redis:// or rediss:// URL (ACL user and password, db, TLS).
 * `maxRetriesPerRequest: null` is what BullMQ workers require; retries back off to 2 s.
 */
export function redisOptions(url: string, extra: RedisOptions = {}): RedisOptions {
  const u = new URL(url);
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 6379,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    tls: u.protocol === 'rediss:' ? {} : undefined,
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(100 * times, 2000),
    ...extra,
  };
}

export function createRedis(url: string, name: string, extra: RedisOptions = {}): Redis {
  return new Redis({ ...redisOptions(url, extra), connectionName: name });
}

/** Redis URL with the password hidden, for logs. */
export function redactUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

import type { RedisOptions } from 'ioredis';
import type { NnqConfig } from './config';

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

/** Where Redis is: REDIS_URL, plus the seed nodes of REDIS_CLUSTER_NODES in Redis Cluster mode. */
export type RedisTarget = Pick<NnqConfig, 'REDIS_URL' | 'REDIS_CLUSTER_NODES'>;

/** Seed nodes of a Redis Cluster, or undefined for a single Redis. */
export function clusterNodes(target: RedisTarget): { host: string; port: number }[] | undefined {
  if (!target.REDIS_CLUSTER_NODES) return undefined;
  return target.REDIS_CLUSTER_NODES.split(',').map((n) => {
    const [host, port] = n.trim().split(':');
    return { host, port: Number(port) };
  });
}

/**
 * A Redis URL with its password hidden (`redis://nnq:***@host:6379`): the one way any nnq process
 * prints a Redis URL. A string that is no URL loses everything between `//` and `@`.
 */
export function redactUrl(url: string): string {
  if (!URL.canParse(url)) return url.replace(/\/\/[^/]*@/, '//***@');
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

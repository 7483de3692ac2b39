import { clusterNodes, redisOptions, type RedisTarget } from '@nnq/config';
import { Cluster, Redis, type RedisOptions } from 'ioredis';

export function createRedis(url: string, name: string, extra: RedisOptions = {}): Redis {
  return new Redis({ ...redisOptions(url, extra), connectionName: name });
}

/**
 * SHUTDOWN NOSAVE the Redis at `url` (a throwaway one this cluster owns); errors are ignored: it
 * may be gone already, and the connection drops as it stops.
 */
export async function shutdownRedis(url: string): Promise<void> {
  const r = createRedis(url, 'nnq-shutdown', { maxRetriesPerRequest: 1, retryStrategy: () => null });
  r.on('error', () => undefined);
  await r.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
  r.disconnect();
}

/**
 * An ioredis Cluster over the seed nodes; user, password and TLS from the URL. Commands follow
 * MOVED/ASK redirections; a command over keys of several hash slots fails (CROSSSLOT), which is
 * why the key schema puts the keys a script or MULTI touches under one hash tag.
 */
export function createCluster(
  url: string,
  nodes: { host: string; port: number }[],
  name: string,
  extra: Pick<RedisOptions, 'lazyConnect'> = {},
): Cluster {
  const o = redisOptions(url);
  return new Cluster(nodes, {
    redisOptions: {
      username: o.username,
      password: o.password,
      tls: o.tls,
      connectionName: name,
      maxRetriesPerRequest: null,
    },
    clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
    lazyConnect: extra.lazyConnect,
  });
}

/**
 * The app's Redis client: a single Redis, or a Cluster typed as one (the commands nnq uses have
 * the same signatures; `isCluster` tells them apart where it matters).
 */
export function createRedisClient(target: RedisTarget, name: string): Redis {
  const nodes = clusterNodes(target);
  return nodes
    ? (createCluster(target.REDIS_URL, nodes, name) as unknown as Redis)
    : createRedis(target.REDIS_URL, name);
}

/** Cluster instances handed to BullMQ, which never closes a connection it was given. */
const sharedBullClusters = new Set<Cluster>();

/**
 * The `connection` of a BullMQ Queue, Worker or QueueEvents: options (BullMQ opens and closes its
 * own connections) for a single Redis; for a Cluster a lazy instance that BullMQ duplicates for
 * its blocking connections and uses as is otherwise. Close it with the owner (see ClusterCoreModule).
 */
export function bullConnection(target: RedisTarget, name = 'nnq-bullmq'): RedisOptions | Cluster {
  const nodes = clusterNodes(target);
  if (!nodes) return redisOptions(target.REDIS_URL);
  const cluster = createCluster(target.REDIS_URL, nodes, name, { lazyConnect: true });
  sharedBullClusters.add(cluster);
  return cluster;
}

/** Close the Cluster connections of bullConnection (at shutdown, after the queues and workers closed). */
export async function closeBullConnections(): Promise<void> {
  const all = [...sharedBullClusters];
  sharedBullClusters.clear();
  await Promise.allSettled(all.map((c) => (c.status === 'wait' ? c.disconnect() : c.quit())));
}

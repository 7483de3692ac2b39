import type { TestProject } from 'vitest/node';
import { startRedisServer } from '../../libs/launch/src/throwaway-redis';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

/** Containers only where a runtime answers; otherwise we fall through to redis-server. */
async function tryContainer(): Promise<{ url: string; stop(): Promise<void> } | null> {
  if (process.env.NNQ_TEST_CONTAINERS === '0') return null;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
  } catch {
    return null;
  }
  const { GenericContainer } = await import('testcontainers');
  const c = await new GenericContainer('redis:7-alpine').withExposedPorts(6379).start();
  return { url: `redis://${c.getHost()}:${c.getMappedPort(6379)}`, stop: async () => void (await c.stop()) };
}

/**
 * Every suite gets a real Redis: REDIS_URL when set; else a testcontainers Redis when a container
 * runtime answers; else a throwaway redis-server on a free port. Tests isolate themselves by key
 * prefix and queue name.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.REDIS_URL) {
    project.provide('redisUrl', process.env.REDIS_URL);
    return async () => {};
  }
  const server = (await tryContainer()) ?? (await startRedisServer());
  process.env.REDIS_URL = server.url;
  project.provide('redisUrl', server.url);
  return () => server.stop();
}

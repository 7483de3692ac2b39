import { describe, expect, it } from 'vitest';
import { loadConfig } from './config';

describe('loadConfig', () => {
  it('applies defaults', () => {
    const c = loadConfig({});
    expect([c.REDIS_URL, c.NNQ_PORT, c.NNQ_WORKER_PORT, c.NNQ_PREFIX]).toEqual([
      'redis://127.0.0.1:6379',
      3000,
      0,
      'nnq',
    ]);
  });
  it.each([
    [
      'REDIS_URL',
      'localhost:6379',
      /REDIS_URL: REDIS_URL must be a URL of the form redis:\/\/.*\(got "localhost:6379"\)/,
    ],
    ['NNQ_PORT', 'abc', /NNQ_PORT: NNQ_PORT must be an integer port 0-65535 \(got "abc"\)/],
    ['NNQ_PORT', '70000', /NNQ_PORT must be an integer port 0-65535/],
    ['NNQ_WORKER_CONCURRENCY', '0', /NNQ_WORKER_CONCURRENCY must be an integer >= 1/],
    ['NNQ_PREFIX', 'a:b', /NNQ_PREFIX must be 1-64 characters/],
    ['NNQ_API_TOKEN', 'short', /NNQ_API_TOKEN must be at least 16 characters/],
    ['REDIS_CLUSTER_NODES', 'redis-1', /REDIS_CLUSTER_NODES must be comma-separated host:port seed nodes/],
    ['REDIS_CLUSTER_NODES', 'a:6379,b:70000', /REDIS_CLUSTER_NODES must be comma-separated host:port/],
  ])('refuses %s=%s with a message naming it', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });
  it('keeps checkpoints and models in Redis unless NNQ_DATA_DIR or NNQ_RUN_STORE says files', () => {
    expect(loadConfig({}).NNQ_RUN_STORE).toBe('redis');
    expect(loadConfig({ NNQ_DATA_DIR: '/var/nnq' }).NNQ_RUN_STORE).toBe('files');
    expect(loadConfig({ NNQ_DATA_DIR: '/var/nnq', NNQ_RUN_STORE: 'redis' }).NNQ_RUN_STORE).toBe('redis');
    expect(loadConfig({ NNQ_RUN_STORE: 'files' }).NNQ_RUN_STORE).toBe('files');
    expect(() => loadConfig({ NNQ_RUN_STORE: 'disk' })).toThrow(/^invalid configuration/);
  });
  it('reads Redis Cluster seed nodes, and refuses a database number with them', () => {
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'redis-1:6379, redis-2:6380' }).REDIS_CLUSTER_NODES).toBe(
      'redis-1:6379, redis-2:6380',
    );
    expect(loadConfig({}).REDIS_CLUSTER_NODES).toBeUndefined();
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'a:1', REDIS_URL: 'redis://a:1/2' })).toThrow(
      /REDIS_CLUSTER_NODES: .*a Redis Cluster has only database 0/,
    );
  });
  it('lists every problem at once', () => {
    expect(() => loadConfig({ NNQ_PORT: 'x', NNQ_WORKER_PORT: 'y' })).toThrow(/NNQ_PORT[\s\S]*NNQ_WORKER_PORT/);
  });
});

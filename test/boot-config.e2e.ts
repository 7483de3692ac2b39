import { describe, expect, it } from 'vitest';
import { startApp } from './support/processes';

// Each app reads its environment once at boot and refuses a bad value by name, exit 78 (EX_CONFIG).
describe('boot-time configuration', () => {
  it.each([
    ['coordinator', { NNQ_PORT: 'http' }, /NNQ_PORT: NNQ_PORT must be an integer port 0-65535 \(got "http"\)/],
    ['worker', { REDIS_URL: 'localhost' }, /REDIS_URL: REDIS_URL must be a URL of the form redis:\/\//],
    ['worker', { NNQ_WORKER_CONCURRENCY: '-2' }, /NNQ_WORKER_CONCURRENCY must be an integer >= 1/],
  ] as const)('%s refuses %o and names the variable', async (app, env, message) => {
    const p = startApp(app, env);
    expect(await p.exited).toBe(78);
    expect(p.output()).toMatch(message);
  });
});

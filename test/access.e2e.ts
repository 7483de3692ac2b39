import { Redis } from 'ioredis';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { freePort, startRedisServer } from '@nnq/launch';
import { startApp, stopApp, uniquePrefix, type AppProcess } from './support/processes';
import { exampleConfig, submitRun, waitForRun } from './support/runs';

// Who may use a coordinator and its Redis: a bearer token on mutating endpoints, a Redis ACL user
// confined to its prefix, TLS to Redis, and no listening beyond loopback without a token.

/** A coordinator and one worker on `env` (pushed to `procs` for clean-up) train 20 XOR steps; the final state. */
async function trainXor(env: Record<string, string>, procs: AppProcess[]): Promise<string> {
  const c = startApp('coordinator', { ...env, NNQ_PORT: '0' });
  procs.push(c);
  const [, port] = await c.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
  const w = startApp('worker', env);
  procs.push(w);
  await w.waitFor(/serving \/health and \/metrics/);
  const base = `http://127.0.0.1:${port}`;
  const r = await submitRun(base, { ...exampleConfig('xor.json'), steps: 20 });
  return (await waitForRun(base, r.id)).state;
}

describe('access', () => {
  const redisUrl = inject('redisUrl');

  it('requires the bearer token on mutating endpoints when NNQ_API_TOKEN is set', async () => {
    const prefix = uniquePrefix('auth');
    const token = 'a-long-enough-test-token';
    const c = startApp('coordinator', { REDIS_URL: redisUrl, NNQ_PREFIX: prefix, NNQ_PORT: '0', NNQ_API_TOKEN: token });
    try {
      const [, port] = await c.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      const base = `http://127.0.0.1:${port}`;
      const post = (headers: Record<string, string>) =>
        fetch(`${base}/runs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: '{}',
        });
      expect((await post({})).status).toBe(401);
      const wrong = await post({ authorization: 'Bearer not-the-token-at-all' });
      expect(wrong.status).toBe(401);
      expect(await wrong.text()).toMatch(/does not match NNQ_API_TOKEN/);
      // with the token the request reaches validation (400 for the empty config)
      expect((await post({ authorization: `Bearer ${token}` })).status).toBe(400);
      expect((await fetch(`${base}/runs`)).status).toBe(200);
    } finally {
      await stopApp(c);
    }
  });

  it('trains through a Redis ACL user limited to its prefix (the docs/faults.md ACL line)', async () => {
    const redis = await startRedisServer();
    const admin = new Redis(redis.url);
    const prefix = uniquePrefix('acl');
    const dataDir = mkdtempSync(join(tmpdir(), 'nnq-acl-'));
    const procs: AppProcess[] = [];
    try {
      await admin.call(
        'ACL',
        'SETUSER',
        'nnq',
        'on',
        '>s3cret-pass',
        `~${prefix}:*`,
        `&${prefix}:*`,
        '+@all',
        '-@admin',
        '-@dangerous',
        '+info',
        '+scan',
      );
      // the default user is switched off: only the ACL user can get in
      await admin.call('ACL', 'SETUSER', 'default', 'off');
      const url = `redis://nnq:s3cret-pass@127.0.0.1:${redis.port}`;
      const env = { REDIS_URL: url, NNQ_PREFIX: prefix, NNQ_DATA_DIR: dataDir };
      expect(await trainXor(env, procs)).toBe('completed');
    } finally {
      await Promise.all(procs.map((p) => stopApp(p)));
      admin.disconnect();
      await redis.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('trains over TLS (rediss://) with the CA given to Node', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nnq-tls-'));
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    ssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=nnq-test-ca',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
    );
    ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
    );
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    ssl(
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      'san.ext',
      '-out',
      'server.crt',
    );
    const tlsPort = await freePort();
    const redis = await startRedisServer([
      '--tls-port',
      String(tlsPort),
      '--tls-cert-file',
      join(dir, 'server.crt'),
      '--tls-key-file',
      join(dir, 'server.key'),
      '--tls-ca-cert-file',
      join(dir, 'ca.crt'),
      '--tls-auth-clients',
      'no',
    ]);
    const prefix = uniquePrefix('tls');
    const procs: AppProcess[] = [];
    try {
      const env = {
        REDIS_URL: `rediss://127.0.0.1:${tlsPort}`,
        NODE_EXTRA_CA_CERTS: join(dir, 'ca.crt'),
        NNQ_PREFIX: prefix,
        NNQ_DATA_DIR: join(dir, 'data'),
      };
      expect(await trainXor(env, procs)).toBe('completed');
    } finally {
      await Promise.all(procs.map((p) => stopApp(p)));
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to listen beyond loopback without a token', async () => {
    const c = startApp('coordinator', { REDIS_URL: redisUrl, NNQ_HOST: '0.0.0.0', NNQ_PORT: '0' });
    expect(await c.exited).toBe(78);
    expect(c.output()).toMatch(/refusing to listen on 0\.0\.0\.0 without NNQ_API_TOKEN/);
  });
});

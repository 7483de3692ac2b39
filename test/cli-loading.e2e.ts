import { freePort } from '@nnq/launch';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { appMain } from './support/processes';

/**
 * CLI commands that only read the environment or start a Redis of their own load no NestJS,
 * terminus or prom-client (issue #22): the config is @nnq/config and the redis-server launcher
 * @nnq/launch, apart from libs/cluster's Nest module. Each case runs the real `nnq` and lists,
 * as it exits, the modules it loaded.
 */
const dir = mkdtempSync(join(tmpdir(), 'nnq-cli-loading-'));
const preload = join(dir, 'loaded.js');
writeFileSync(
  preload,
  "process.on('exit', () => require('node:fs').writeFileSync(process.env.LOADED_FILE, " +
    'JSON.stringify(Object.keys(require.cache))));\n',
);

function nnq(args: string[], env: NodeJS.ProcessEnv): { code: number | null; out: string; loaded: string[] } {
  const loadedFile = join(dir, `loaded-${Math.random().toString(36).slice(2)}.json`);
  const r = spawnSync(process.execPath, ['--require', preload, appMain('cli'), ...args], {
    env: { PATH: process.env.PATH, NO_COLOR: '1', LOADED_FILE: loadedFile, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const loaded = JSON.parse(readFileSync(loadedFile, 'utf8')) as string[];
  return { code: r.status, out: `${r.stdout}${r.stderr}`, loaded };
}

const FRAMEWORK = /node_modules\/(@nestjs\/|prom-client\/|@nestjs\/terminus\/)/;
const nest = (loaded: string[]) => loaded.filter((m) => FRAMEWORK.test(m));

describe('nnq commands that need only config or a local Redis load no Nest', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('nnq up with a bad variable: refused by name (exit 78) after loading the config lib only', () => {
    const { code, out, loaded } = nnq(['up'], { NNQ_PORT: 'eighty' });
    expect(code, out).toBe(78);
    expect(out).toMatch(/NNQ_PORT: NNQ_PORT must be an integer port 0-65535 \(got "eighty"\)/);
    expect(loaded.some((m) => m.includes('/libs/config/src/'))).toBe(true);
    expect(nest(loaded)).toEqual([]);
  });

  it('nnq up with no Redis and no redis-server: the launcher runs and says so (exit 69), still no Nest', async () => {
    const env = {
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      NNQ_REDIS_SERVER: join(dir, 'no-such-redis-server'),
    };
    const { code, out, loaded } = nnq(['up', '--workers', '1'], env);
    expect(code, out).toBe(69);
    expect(out).toMatch(/no Redis answers at redis:\/\/127\.0\.0\.1:\d+ and no redis-server binary is on PATH/);
    expect(loaded.some((m) => m.includes('/libs/launch/src/throwaway-redis'))).toBe(true);
    expect(nest(loaded)).toEqual([]);
  });
});

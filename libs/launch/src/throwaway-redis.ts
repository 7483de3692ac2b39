import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throwaway redis-server on a free loopback port, in its own temp dir. */
export interface ThrowawayRedis {
  url: string;
  port: number;
  pid: number;
  /** Stop gracefully (SIGTERM: Redis flushes its AOF) and start again on the same port and dir. */
  restart(): Promise<boolean>;
  stop(): Promise<void>;
  /** SIGKILL it now and remove its dir, synchronously (a second Ctrl-C: no time to wait). */
  kill(): void;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
}

async function spawnRedis(binary: string, args: string[]): Promise<Running> {
  // own process group: a Ctrl-C in the terminal reaches only our parent, which stops us in order
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.resume();
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${out}`));
    });
  });
  return { child, exited };
}

async function terminate(r: Running): Promise<void> {
  if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGTERM');
  await r.exited;
}

export async function startRedisServer(extraArgs: string[] = [], binary = 'redis-server'): Promise<ThrowawayRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'nnq-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
    ...extraArgs,
  ];
  let running: Running;
  try {
    running = await spawnRedis(binary, args);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  let stopped = false;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return running.child.pid ?? -1;
    },
    async restart() {
      await terminate(running);
      running = await spawnRedis(binary, args);
      return true;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await terminate(running);
      rmSync(dir, { recursive: true, force: true });
    },
    kill() {
      stopped = true;
      if (running.child.exitCode === null && running.child.signalCode === null) running.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

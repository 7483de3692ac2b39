import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { APP_NODE_ARGS } from '@nnq/launch';

/** The repository root (this file runs from dist/bench/scale). */
export const ROOT = join(__dirname, '..', '..', '..');

export interface Started {
  child: ChildProcess;
  out: () => string;
}

/** Start a compiled script of dist/ (path relative to dist) with quiet logs unless env says otherwise. */
export function start(script: string, env: NodeJS.ProcessEnv): Started {
  const child = spawn(process.execPath, [...APP_NODE_ARGS, join(ROOT, 'dist', script)], {
    env: { ...process.env, NO_COLOR: '1', NNQ_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-20_000)));
  child.stderr?.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-20_000)));
  return { child, out: () => out };
}

/** SIGTERM each process this bench started and wait for it to exit. */
export async function stopAll(procs: Started[]): Promise<void> {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGTERM');
  await Promise.all(
    procs.map((p) => new Promise((r) => (p.child.exitCode !== null ? r(null) : p.child.once('exit', r)))),
  );
}

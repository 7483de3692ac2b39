import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import type { TestCluster, TestWorker } from '../support/cluster';
import { exampleConfig, submitRun } from '../support/runs';

export const ROOT = resolve(__dirname, '..', '..');
export const DEPLOY = join(ROOT, 'deploy');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a command, feeding `input` on stdin. */
export function run(cmd: string, args: string[], input?: string): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolveRun({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** The Prometheus text a process serves at `<base>/metrics`. */
export async function scrape(base: string): Promise<string> {
  const res = await fetch(`${base}/metrics`);
  if (!res.ok) throw new Error(`GET ${base}/metrics: ${res.status}`);
  return res.text();
}

/** Starts `cluster` as the monitoring suites scrape it: a coordinator and one worker running 2 jobs at once. */
export async function startCoordinatorAndWorker(cluster: TestCluster): Promise<TestWorker> {
  await cluster.startCoordinator();
  const worker = await cluster.addWorker({ NNQ_WORKER_CONCURRENCY: '2' });
  await cluster.waitForWorkers(1);
  return worker;
}

/** Submits examples/xor.json with `overrides` on top to `cluster`; the run id. */
export async function submitXor(cluster: TestCluster, overrides: Record<string, unknown>): Promise<string> {
  return (await submitRun(cluster.base, { ...exampleConfig('xor.json'), ...overrides })).id;
}

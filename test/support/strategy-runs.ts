import { expect } from 'vitest';
import type { TestCluster } from './cluster';
import { getJson } from './processes';
import { modelParams, submitRun, waitForRun, type RunView } from './runs';

/**
 * The step strategies every fault is tested with. A test submits one run of each, side by side on
 * one cluster (the same faults hit both), and expects the fault-free bytes of each.
 */
export const STRATEGIES = ['central', 'replicated'] as const;
export type Strategy = (typeof STRATEGIES)[number];
export interface StrategyRun {
  strategy: Strategy;
  id: string;
}

/** One run of `c` per step strategy, submitted together. */
export async function submitEach(cluster: TestCluster, c: Record<string, unknown>): Promise<StrategyRun[]> {
  return Promise.all(
    STRATEGIES.map(async (strategy) => {
      const r = await submitRun(cluster.base, { ...c, name: `${String(c.name)}-${strategy}`, reduce: { strategy } });
      return { strategy, id: r.id };
    }),
  );
}

/** Every run ends completed, with no error and the bytes of `fault-free` (named by strategy when one does not). */
export async function expectFaultFree(
  cluster: TestCluster,
  runs: StrategyRun[],
  faultFreeBytes: Buffer,
  timeoutMs = 170_000,
): Promise<void> {
  const ended = await Promise.all(
    runs.map(async ({ strategy, id }) => {
      const done = await waitForRun(cluster.base, id, timeoutMs);
      const same = done.state === 'completed' && (await modelParams(cluster.base, id)).equals(faultFreeBytes);
      return { strategy, state: done.state, error: done.error, sameBytes: same };
    }),
  );
  expect(ended).toEqual(
    runs.map(({ strategy }) => ({ strategy, state: 'completed', error: undefined, sameBytes: true })),
  );
}

/** The lowest step of the runs still queued or running; Infinity once all have ended. */
export async function slowest(cluster: TestCluster, runs: StrategyRun[]): Promise<number> {
  const views = await Promise.all(runs.map((r) => getJson<RunView>(`${cluster.base}/runs/${r.id}`)));
  return Math.min(...views.filter((v) => v.state === 'running' || v.state === 'queued').map((v) => v.step));
}

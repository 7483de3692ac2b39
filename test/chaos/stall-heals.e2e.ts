import type { HistoryEntry } from '@nnq/protocol';
import { createRng, type Rng } from '@nnq/nn';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { TestCluster } from '../support/cluster';
import { getJson } from '../support/processes';
import { exampleConfig, submitRun, waitForRun, type RunView } from '../support/runs';

// Issue #25: a worker stopped for half a second sent a spirals run from 6 ms to 260 ms a step for
// good (the next step's jobs held every slot while the current step's sat in the delayed set).
// Here a worker of a 2-worker cluster is stopped (SIGSTOP, then SIGCONT) 10 times, at seeded
// random moments, for 0.1-5 s; after each pause the run must be back to its speed: the median
// step time of the 200 steps after the pause within 1.5x of the run's median before the pause
// (its steps since a warm-up). A recovery check, not a speed target: a trapped run is 40x slower,
// while the load of a shared machine moves a window's median by a few tens of percent.
const PAUSES = 10;
const WINDOW = 200;
/** First steps left out of the run's median (JIT and arenas warming up in every process). */
const WARMUP = 60;
const MAX_RATIO = 1.5;

/**
 * One step's line of GET /runs/:id/history (the HTTP contract's HistoryEntry, step kind): `at`, when
 * the step ended (ms since the epoch, the coordinator's clock: this machine's), is always written now.
 */
type StepEntry = Extract<HistoryEntry, { type: 'step' }> & { at: number };

interface Pause {
  worker: number;
  ms: number;
  /** Wall-clock bounds of the pause (ms since the epoch). */
  from: number;
  to: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Two spirals, 4 shards of 32 rows a step: 5-30 ms a step. Cancelled once the last window is in. */
const config = (name: string, extra: Record<string, unknown>) => ({
  ...exampleConfig('spirals.json'),
  name,
  epochs: undefined,
  steps: 100_000,
  evaluation: { every: 1_000_000 },
  ...extra,
});

/** The run's step as its record says (saved at most every 200 ms: it lags by a few dozen steps). */
async function stepOf(cluster: TestCluster, runId: string): Promise<number> {
  const r = await getJson<RunView>(`${cluster.base}/runs/${runId}`);
  if (r.state !== 'running' && r.state !== 'queued') throw new Error(`run ${runId} ${r.state} before all pauses`);
  return r.step;
}

/** Wait until the run is `gap` steps further, or `limitMs` passed (a stalled run: its window comes up short). */
async function stepsLater(cluster: TestCluster, runId: string, gap: number, limitMs = 60_000): Promise<void> {
  const start = await stepOf(cluster, runId);
  const deadline = Date.now() + limitMs;
  while ((await stepOf(cluster, runId)) < start + gap && Date.now() < deadline) await sleep(100);
}

/** Stop a worker of `cluster` for 0.1-5 s (log-uniform), at a random moment of a step. */
async function pause(cluster: TestCluster, rng: Rng): Promise<Pause> {
  await sleep(rng.int(10));
  const worker = rng.int(cluster.workers.length);
  const ms = Math.round(100 * 50 ** rng.next());
  const pid = cluster.workers[worker].pid;
  const from = Date.now();
  process.kill(pid, 'SIGSTOP');
  try {
    await sleep(ms);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  return { worker, ms, from, to: Date.now() };
}

describe('stalls heal', () => {
  const redisUrl = inject('redisUrl');
  let cluster: TestCluster | undefined;

  afterEach(async () => {
    for (const w of cluster?.workers ?? []) if (w.child.exitCode === null) w.child.kill('SIGCONT');
    await cluster?.stop();
    cluster = undefined;
  });

  const strategies: [string, Record<string, unknown>][] = [
    ['central', {}],
    ['sliced', { reduce: { slices: 2, sliceAbove: 0 } }],
  ];

  // One retry: a trapped run is 40x slower for good, but this shared 2-core machine can slow a
  // 200-step window by 1.6x for a few seconds on its own (seen once in three runs here).
  it.each(strategies)(
    '%s: after each of 10 pauses of a worker (0.1-5 s) the run is back within 1.5x of its step time',
    { timeout: 400_000, retry: 1 },
    async (name, extra) => {
      cluster = new TestCluster(redisUrl, `stall-${name}`);
      await cluster.startCoordinator();
      await Promise.all([cluster.addWorker(), cluster.addWorker()]);
      await cluster.waitForWorkers(2);
      const rng = createRng(25);
      const run = await submitRun(cluster.base, config(`stall-${name}`, extra));
      // a warm-up and the first window, then a pause each time the window after the last is in
      // (the record lags the run by up to 200 ms: a margin of 20 steps, and a random 0-20 more)
      const pauses: Pause[] = [];
      await stepsLater(cluster, run.id, WARMUP + WINDOW + rng.int(40));
      while (pauses.length < PAUSES) {
        pauses.push(await pause(cluster, rng));
        await stepsLater(cluster, run.id, WINDOW + 20 + rng.int(20));
      }
      await fetch(`${cluster.base}/runs/${run.id}/cancel`, { method: 'POST' });
      expect((await waitForRun(cluster.base, run.id, 60_000)).state).toBe('cancelled');

      const steps = (await getJson<HistoryEntry[]>(`${cluster.base}/runs/${run.id}/history`)).filter(
        (e): e is StepEntry => e.type === 'step',
      );
      const report = pauses.map((p) => {
        const before = steps.filter((s) => s.at < p.from).slice(WARMUP);
        const after = steps.filter((s) => s.at > p.to).slice(0, WINDOW);
        const ms = (xs: StepEntry[]) => median(xs.map((s) => s.seconds * 1000));
        return {
          pause: p.ms,
          worker: p.worker,
          before: ms(before),
          after: ms(after),
          ratio: ms(after) / ms(before),
          steps: [before.length, after.length],
        };
      });
      console.log(
        `${name}: pause ms, median ms before -> after:\n` +
          report
            .map(
              (r) =>
                `  ${r.pause} (w${r.worker}): ${r.before.toFixed(1)} -> ${r.after.toFixed(1)} (${r.ratio.toFixed(2)}x)`,
            )
            .join('\n'),
      );
      for (const r of report) {
        expect(
          r.ratio,
          `median step ${r.before.toFixed(1)} -> ${r.after.toFixed(1)} ms after a ${r.pause} ms pause`,
        ).toBeLessThanOrEqual(MAX_RATIO);
        // a window cut short: the run had not gone 200 steps further within 60 s of the pause
        expect(r.steps[0], `steps before the ${r.pause} ms pause`).toBeGreaterThanOrEqual(WINDOW);
        expect(r.steps[1], `steps after the ${r.pause} ms pause`).toBe(WINDOW);
      }
    },
  );
});

import { describe, expect, it, vi } from 'vitest';
import type { DriverDeps } from './driver-deps';
import { failRun, finishRun, trailingSkips } from './run-end';
import type { HistoryEntry, RunRecord } from '@nnq/protocol';

import { removeRunJobs } from './run-jobs';

vi.mock('./run-jobs', () => ({ removeRunJobs: vi.fn(async () => 3) }));

const record = { id: 'r1', state: 'failed', step: 4 } as RunRecord;
const step = (n: number, skipped?: boolean): HistoryEntry => ({
  type: 'step',
  step: n,
  epoch: 0,
  loss: 1,
  accuracy: 0,
  lr: 0,
  gradNorm: 0,
  seconds: 0,
  ...(skipped ? { skipped } : {}),
});

describe('finishRun', () => {
  it('saves the record (retried), deletes the transient keys, removes the jobs, even when one part fails', async () => {
    const saved: [RunRecord, number][] = [];
    const store = {
      saveProgress: vi.fn(async (r: RunRecord, entries: HistoryEntry[]) => {
        saved.push([r, entries.length]);
        if (saved.length === 1) throw new Error('connection lost');
      }),
      deleteTransient: vi.fn(async () => {
        throw new Error('SCAN refused');
      }),
    };
    const errors: string[] = [];
    const deps = { store, metrics: { runFinished: vi.fn() }, redis: {}, queue: {} } as unknown as DriverDeps;
    await finishRun(deps, record, [step(3)], { error: (m: string) => errors.push(m) });
    // the history goes with the first attempt only
    expect(saved).toEqual([
      [record, 1],
      [record, 0],
    ]);
    expect(store.deleteTransient).toHaveBeenCalledWith('r1');
    expect(removeRunJobs).toHaveBeenCalledWith(deps.redis, deps.queue, 'r1');
    expect(errors).toEqual([
      'could not save the failed record (attempt 1): connection lost',
      'could not delete the transient keys: SCAN refused',
    ]);
  });
});

describe('failRun', () => {
  const logger = { error: () => undefined };
  const running = { id: 'r1', state: 'running', step: 7 } as RunRecord;

  it('records the reason and step, and what became of the model', async () => {
    const written = await failRun(running, new Error('checkpoint refused'), logger, async () => true);
    expect(written).toMatchObject({ state: 'failed', error: { reason: 'checkpoint refused', step: 7 } });
    const none = await failRun(running, new Error('boom'), logger, async () => false);
    expect(none.error!.reason).toMatch(/^boom; no finite parameters to write as its model$/);
  });

  it('still fails the run when writing the model throws, with both reasons', async () => {
    const r = await failRun(running, new Error('disk full'), logger, async () => {
      throw new Error('ENOSPC: no space left on device');
    });
    expect(r.state).toBe('failed');
    expect(r.error!.reason).toMatch(/^disk full; its model could not be written: ENOSPC: no space left on device$/);
  });
});

describe('trailingSkips', () => {
  it.each([
    [[], 0],
    [[step(0), step(1, true), step(2, true)], 2],
    [[step(0, true), step(1)], 0],
    [[step(0, true), { type: 'evaluation', step: 1 } as HistoryEntry], 1],
  ])('%j -> %i', (history, n) => {
    expect(trailingSkips(history as HistoryEntry[])).toBe(n);
  });
});

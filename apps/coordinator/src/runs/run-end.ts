import type { Logger } from '@nestjs/common';
import { decodeFloat32 } from '@nnq/protocol';
import { allFinite } from '@nnq/training';
import type { DriverDeps } from './driver-deps';
import type { HistoryEntry, RunRecord } from '@nnq/protocol';
import { removeRunJobs } from './run-jobs';

/** Attempts at saving a run's final record (Redis may be reconnecting), this far apart. */
const SAVE_ATTEMPTS = 5;
const SAVE_RETRY_MS = 1_000;

/**
 * What every run's end does, completed, failed or cancelled: save the final record (and the
 * history not saved yet), then delete the transient keys (the manifest first, so a job picked up
 * after this completes without a result: see the worker's ShardProcessor), then remove every job
 * of the run still queued. Each part runs even when one before it failed (it is logged), so one
 * error cannot leave a run `running` with its jobs looping. Never rejects.
 */
export async function finishRun(
  deps: Pick<DriverDeps, 'store' | 'metrics' | 'redis' | 'queue'>,
  record: RunRecord,
  unsaved: HistoryEntry[],
  logger: Pick<Logger, 'error'>,
): Promise<void> {
  const attempt = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
      return true;
    } catch (err) {
      logger.error(`could not ${what}: ${err instanceof Error ? err.message : String(err)}`);
      return false;
    }
  };
  let saved = false;
  for (let i = 0; i < SAVE_ATTEMPTS && !saved; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, SAVE_RETRY_MS));
    // the history goes with the first attempt only (a retry must not push it twice)
    const entries = i === 0 ? unsaved : [];
    saved = await attempt(`save the ${record.state} record (attempt ${i + 1})`, () =>
      deps.store.saveProgress(record, entries),
    );
  }
  await attempt('count the finished run', async () => deps.metrics.runFinished(record));
  await attempt('delete the transient keys', () => deps.store.deleteTransient(record.id));
  await attempt('remove the queued jobs', () => removeRunJobs(deps.redis, deps.queue, record.id));
}

/**
 * The record of a run that failed with `err`: the reason and the step. `writeModel` writes the
 * last finite parameters as its model and says whether there were any; should that throw too,
 * the reason says so after the first (the run still fails, with both).
 */
export async function failRun(
  record: RunRecord,
  err: unknown,
  logger: Pick<Logger, 'error'>,
  writeModel: () => Promise<boolean>,
): Promise<RunRecord> {
  let reason = err instanceof Error ? err.message : String(err);
  logger.error(`failed at step ${record.step}: ${reason}`);
  try {
    if (!(await writeModel())) reason += '; no finite parameters to write as its model';
  } catch (e) {
    reason += `; its model could not be written: ${e instanceof Error ? e.message : String(e)}`;
  }
  return { ...record, state: 'failed', finishedAt: new Date().toISOString(), error: { reason, step: record.step } };
}

/** Parameters `version` of the run from Redis, when they are there, whole and finite. */
export async function storedFiniteParams(
  deps: Pick<DriverDeps, 'redis' | 'keys'>,
  runId: string,
  version: number,
  paramCount: number,
): Promise<Float32Array | undefined> {
  const blob = await deps.redis.getBuffer(deps.keys.params(runId, version)).catch(() => null);
  if (blob?.byteLength !== paramCount * 4) return undefined;
  const params = decodeFloat32(blob, paramCount);
  return allFinite(params) ? params : undefined;
}

/** Steps skipped as non-finite at the end of a history (a resumed run goes on counting them). */
export function trailingSkips(history: HistoryEntry[]): number {
  let n = 0;
  for (let i = history.length - 1; i >= 0; i--) {
    const e = history[i];
    if (e.type !== 'step') continue;
    if (!e.skipped) break;
    n++;
  }
  return n;
}

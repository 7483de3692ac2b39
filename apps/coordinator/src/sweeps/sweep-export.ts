import type { SweepResults, SweepView } from '@nnq/protocol';

/** Text a spreadsheet would run as a formula (OWASP "CSV injection"): = + - @, tab, carriage return first. */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. Text that a
 * spreadsheet would take for a formula gets a leading ' and quotes, so it opens as text; numbers
 * (a negative one too) stay numbers.
 */
export function csvField(v: unknown): string {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  let s =
    v === undefined || v === null ? '' : typeof v === 'string' || typeof v === 'number' ? String(v) : JSON.stringify(v);
  if (FORMULA_START.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) || s.startsWith("'") ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The leaderboard as CSV: one row per trial, best first, a column per parameter path. */
export function sweepCsv(sweep: SweepView): string {
  const paths = Object.keys((sweep.config as { space?: Record<string, unknown> }).space ?? {});
  const { metric, split } = sweep.objective;
  const header = [
    'rank',
    'trial',
    'name',
    'run',
    'state',
    ...paths,
    `best_${split}_${metric}`,
    'step',
    'total_steps',
    'epoch',
    'stop_reason',
    'error',
  ];
  const rows = sweep.leaderboard.map((t, i) => [
    i + 1,
    t.index,
    t.name,
    t.runId,
    t.state,
    ...paths.map((p) => t.params[p]),
    t.best,
    t.step,
    t.totalSteps,
    t.epoch,
    t.stopReason,
    t.error,
  ]);
  return [header, ...rows].map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
}

/** The results as JSON: the sweep's summary and its leaderboard (no curves or rung tables). */
export function sweepResults(sweep: SweepView): SweepResults {
  return {
    id: sweep.id,
    name: sweep.name,
    state: sweep.state,
    createdAt: sweep.createdAt,
    finishedAt: sweep.finishedAt,
    objective: sweep.objective,
    best: sweep.best,
    trials: sweep.leaderboard.map(({ curve: _c, reported: _r, evaluatedStep: _e, ...t }, i) => ({ rank: i + 1, ...t })),
  };
}

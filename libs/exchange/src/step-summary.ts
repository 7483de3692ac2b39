import type { StepRecord } from '@nnq/training';

/**
 * What a replica that applied step t of a replicated run tells the coordinator (docs/deploy.md
 * "Step strategies"): the step's record as updateStep made it, its rows and what was non-finite.
 * The coordinator builds the step's history entry and metric from it instead of applying the
 * update itself. Every replica computes the same bytes; the first written counts (SET NX).
 */
export interface StepSummary {
  loss: number;
  accuracy: number;
  lr: number;
  gradNorm: number;
  rows: number;
  /** The step was non-finite: its update was undone ("skip") or the run fails ("fail"). */
  nonFinite?: 'gradient' | 'parameters';
}

const FIELDS = 6;
const CAUSES = [undefined, 'gradient', 'parameters'] as const;

/** Float64 LE values (NaN and infinities kept, as JSON would not): loss, accuracy, lr, gradNorm, rows, cause. */
export function encodeStepSummary(s: StepSummary): Buffer {
  const b = Buffer.alloc(FIELDS * 8);
  [s.loss, s.accuracy, s.lr, s.gradNorm, s.rows, CAUSES.indexOf(s.nonFinite)].forEach((v, i) =>
    b.writeDoubleLE(v, i * 8),
  );
  return b;
}

/** encodeStepSummary's bytes back; throws naming `where` when they are not a summary. */
export function decodeStepSummary(b: Buffer, where: string): StepSummary {
  if (b.byteLength !== FIELDS * 8)
    throw new Error(`${where}: a step summary has ${FIELDS * 8} bytes, not ${b.byteLength}`);
  const v = Array.from({ length: FIELDS }, (_, i) => b.readDoubleLE(i * 8));
  const nonFinite = CAUSES[v[5]];
  if (v[5] !== 0 && !nonFinite) throw new Error(`${where}: unknown non-finite cause ${v[5]}`);
  return { loss: v[0], accuracy: v[1], lr: v[2], gradNorm: v[3], rows: v[4], ...(nonFinite ? { nonFinite } : {}) };
}

/** The step's record from its summary, as updateStep gives it (`skipped` when non-finite). */
export function summaryRecord(s: StepSummary, at: { t: number; epoch: number }): StepRecord {
  const { loss, accuracy, lr, gradNorm } = s;
  const record = { step: at.t, epoch: at.epoch, loss, accuracy, lr, gradNorm };
  return s.nonFinite ? { ...record, skipped: true } : record;
}

import type { Preprocessing } from '@nnq/data';
import type { Evaluation, SplitName } from '@nnq/protocol';
import type { GatherRows, LossAndGradFn } from './shard-compute';

/** Loss and accuracy of a split at one parameter version: part of the HTTP contract (@nnq/protocol api). */
export type { Evaluation, SplitName };

/** Evaluation shard ranges of a split: positions [start, end) of at most rowsPerShard rows. */
export function evalRanges(rows: number, rowsPerShard: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let s = 0; s < rows; s += rowsPerShard) out.push([s, Math.min(rows, s + rowsPerShard)]);
  return out;
}

/** Sums of one evaluation shard. */
export interface EvalPart {
  loss: number;
  correct: number;
  rows: number;
}

/** Compute one evaluation shard (the gradient the engine also returns is discarded). */
export async function evaluatePart(
  gather: GatherRows,
  compute: LossAndGradFn,
  preprocessing: Preprocessing,
  params: Float32Array,
  rows: Uint32Array,
): Promise<EvalPart> {
  const batch = await gather(rows, preprocessing);
  const r = await compute(params, batch.x, batch.y, batch.rows);
  return { loss: r.loss, correct: r.correct, rows: batch.rows };
}

/** Combine shard parts in shard order. */
export function combineParts(split: SplitName, step: number, parts: readonly EvalPart[]): Evaluation {
  let loss = 0;
  let correct = 0;
  let rows = 0;
  for (const p of parts) {
    loss += p.loss;
    correct += p.correct;
    rows += p.rows;
  }
  return { split, step, loss: rows ? loss / rows : 0, accuracy: rows ? correct / rows : 0, rows };
}

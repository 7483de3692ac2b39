import type { StepTotals } from './shard-result';

/**
 * What a reduced slice's marker holds (text): the slice's sum of squares of the summed gradient,
 * and on the last slice, which reads the shards' trailers with its bytes, the step's totals.
 */
export interface SliceMarker {
  sq: number;
  totals?: StepTotals;
}

/** `sq` or `sq loss correct rows`; JavaScript's number text round-trips every double, NaN included. */
export function encodeSliceMarker(m: SliceMarker): string {
  return m.totals ? `${m.sq} ${m.totals.loss} ${m.totals.correct} ${m.totals.rows}` : String(m.sq);
}

export function parseSliceMarker(text: string, where: string): SliceMarker {
  const parts = text.split(' ').map(Number);
  const [sq, loss, correct, rows] = parts;
  if (parts.length === 1) return { sq };
  if (parts.length === 4 && Number.isInteger(correct) && Number.isInteger(rows))
    return { sq, totals: { loss, correct, rows } };
  throw new Error(`${where}: malformed slice marker ${JSON.stringify(text.slice(0, 80))}`);
}

/**
 * Median stopping rule (Golovin, Solnik, Moitra et al. 2017, "Google Vizier", section 3.2.2):
 * stop a trial at epoch e when its best loss so far is strictly worse than the median of the
 * running averages, up to e, of the completed trials that reached e.
 */
export interface MedianStoppingOptions {
  /** No decision before this many epochs of the trial. */
  minEpochs: number;
  /** No decision until this many completed trials reached the epoch. */
  minTrials: number;
}

/** Losses reported by a trial: (epoch, loss) in epoch order; lower is better. */
export type Curve = ReadonlyArray<{ epoch: number; loss: number }>;

/** Mean of the curve's losses at epochs <= e, or undefined when the curve has not reached e. */
export function runningAverage(curve: Curve, e: number): number | undefined {
  if (!curve.length || curve[curve.length - 1].epoch < e - 1e-9) return undefined;
  const upTo = curve.filter((p) => p.epoch <= e + 1e-9);
  if (!upTo.length) return undefined;
  return upTo.reduce((s, p) => s + p.loss, 0) / upTo.length;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Decide at the trial's latest report (its curve's last point). */
export function medianStop(curve: Curve, completed: readonly Curve[], options: MedianStoppingOptions): boolean {
  if (!curve.length) return false;
  const e = curve[curve.length - 1].epoch;
  if (e < options.minEpochs - 1e-9) return false;
  const averages = completed.map((c) => runningAverage(c, e)).filter((a): a is number => a !== undefined);
  if (averages.length < options.minTrials) return false;
  const best = Math.min(...curve.map((p) => (Number.isNaN(p.loss) ? Infinity : p.loss)));
  return best > median(averages);
}

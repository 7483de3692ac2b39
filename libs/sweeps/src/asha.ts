/**
 * Asynchronous Successive Halving (Li, Jamieson, Rostamizadeh et al. 2020, "A System for Massively
 * Parallel Hyperparameter Tuning"), in its stopping form: rungs at epochs r, r*eta, r*eta^2, ...
 * below the trials' full budget; a trial that reaches a rung continues only if it is among the
 * top ceil(n/eta) of the n trials that have reached that rung so far, itself included. Ties go to
 * the trial with the lower index, so the decision is exact and deterministic given the order in
 * which trials report.
 *
 * ceil(n/eta) equals the quantile rule of Ray Tune's AsyncHyperBandScheduler (continue when at
 * least the (1 - 1/eta) quantile) wherever the losses are distinct; the first trial at a rung
 * always continues.
 */
export interface AshaOptions {
  /** r: epochs before the first rung (the grace period). */
  minEpochs: number;
  /** eta: keep the top 1/eta at each rung. */
  reductionFactor: number;
}

/** A trial's loss at a rung (lower is better; negate a metric to maximise). */
export interface RungEntry {
  trial: number;
  loss: number;
}

/** Rung epochs r * eta^k strictly below maxEpochs (a trial that reaches maxEpochs has finished). */
export function ashaRungs(options: AshaOptions, maxEpochs: number): number[] {
  const out: number[] = [];
  for (let e = options.minEpochs; e < maxEpochs - 1e-9 && out.length < 64; e *= options.reductionFactor) out.push(e);
  return out;
}

/** Rank (1 = best) of `trial` among `entries`: by loss, then by trial index. */
function rankOf(entries: readonly RungEntry[], trial: number): number {
  const me = entries.find((e) => e.trial === trial);
  if (!me) throw new RangeError(`trial ${trial} has not reached this rung`);
  return 1 + entries.filter((e) => e.loss < me.loss || (e.loss === me.loss && e.trial < me.trial)).length;
}

/**
 * Record `trial`'s loss at a rung (`entries` are the rung's earlier reports; a NaN loss counts as
 * the worst) and decide: continue or stop. Returns the rung's entries with this one added.
 */
export function ashaDecide(
  entries: readonly RungEntry[],
  trial: number,
  loss: number,
  reductionFactor: number,
): { decision: 'continue' | 'stop'; entries: RungEntry[] } {
  const next = [...entries.filter((e) => e.trial !== trial), { trial, loss: Number.isNaN(loss) ? Infinity : loss }];
  const keep = Math.ceil(next.length / reductionFactor);
  return { decision: rankOf(next, trial) <= keep ? 'continue' : 'stop', entries: next };
}

/** A stateful ASHA over several rungs, for scripted use and tests. */
export class Asha {
  /** Entries per rung epoch, in report order. */
  readonly rungs = new Map<number, RungEntry[]>();

  constructor(
    readonly options: AshaOptions,
    readonly maxEpochs: number,
  ) {
    if (!(options.reductionFactor >= 2)) throw new RangeError('reductionFactor must be at least 2');
    if (!(options.minEpochs > 0)) throw new RangeError('minEpochs must be greater than 0');
    for (const e of ashaRungs(options, maxEpochs)) this.rungs.set(e, []);
  }

  /** The trial reports `loss` at rung `epoch`; whether it continues. */
  report(trial: number, epoch: number, loss: number): 'continue' | 'stop' {
    const entries = this.rungs.get(epoch);
    if (!entries) throw new RangeError(`no rung at epoch ${epoch} (rungs: ${[...this.rungs.keys()].join(', ')})`);
    const r = ashaDecide(entries, trial, loss, this.options.reductionFactor);
    this.rungs.set(epoch, r.entries);
    return r.decision;
  }
}

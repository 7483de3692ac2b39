import { createRng, type Rng } from '@nnq/nn';
import { sampleRandom } from './random';
import {
  fromInternal,
  internalBounds,
  isCategorical,
  toInternal,
  trialSeed,
  type Parameter,
  type TrialParams,
} from './search-space';

/**
 * Tree-structured Parzen Estimator (Bergstra, Bardenet, Bengio & Kegl 2011, "Algorithms for
 * Hyper-Parameter Optimization"; the independent variant of hyperopt). Observations are split at
 * the gamma quantile of the objective into good and bad; per parameter a Parzen estimator l(x) is
 * fitted to the good and g(x) to the bad; of `candidates` draws from l, the one maximising
 * l(x)/g(x) is the suggestion. The first `startupTrials` suggestions are random.
 */
export interface TpeOptions {
  /** Random suggestions before the model takes over. */
  startupTrials: number;
  /** Fraction of observations counted as good. */
  gamma: number;
  /** Draws from l(x) scored per parameter. */
  candidates: number;
}

export const TPE_DEFAULTS: TpeOptions = { startupTrials: 5, gamma: 0.25, candidates: 24 };

/** A finished trial: its parameters and its loss (lower is better; negate a metric to maximise). */
export interface Observation {
  params: TrialParams;
  loss: number;
}

/**
 * Suggestion for trial k: a function of (space, seed, k, observations) alone. Observations are
 * ordered as given; ties in loss go to the earlier one.
 */
export function suggestTpe(
  space: Record<string, Parameter>,
  seed: number,
  k: number,
  observations: readonly Observation[],
  options: TpeOptions = TPE_DEFAULTS,
): TrialParams {
  const obs = observations.filter((o) => Number.isFinite(o.loss));
  if (k < options.startupTrials || obs.length < 2) return sampleRandom(space, seed, k);
  const rng = createRng(trialSeed(seed, k, 1));
  // split at the gamma quantile: the nGood lowest losses are good
  const order = obs.map((o, i) => ({ o, i })).sort((a, b) => a.o.loss - b.o.loss || a.i - b.i);
  const nGood = Math.max(1, Math.ceil(options.gamma * obs.length));
  const good = order.slice(0, nGood).map((e) => e.o.params);
  const bad = order.slice(nGood).map((e) => e.o.params);
  const out: TrialParams = {};
  for (const [path, p] of Object.entries(space)) {
    out[path] = isCategorical(p)
      ? suggestCategorical(
          p.values,
          good.map((g) => g[path]),
          bad.map((b) => b[path]),
          rng,
          options.candidates,
        )
      : suggestNumeric(
          p,
          good.map((g) => Number(g[path])),
          bad.map((b) => Number(b[path])),
          rng,
          options.candidates,
        );
  }
  return out;
}

// ---- categorical: smoothed frequencies -------------------------------------------------------

function suggestCategorical(values: unknown[], good: unknown[], bad: unknown[], rng: Rng, n: number): unknown {
  const key = (v: unknown) => JSON.stringify(v);
  const index = new Map(values.map((v, i) => [key(v), i]));
  // p(c) = (count(c) + 1) / (n + K): a uniform prior of weight one per category
  const probs = (seen: unknown[]) => {
    const counts = values.map(() => 1);
    for (const v of seen) {
      const i = index.get(key(v));
      if (i !== undefined) counts[i]++;
    }
    const total = counts.reduce((a, b) => a + b, 0);
    return counts.map((c) => c / total);
  };
  const l = probs(good);
  const g = probs(bad);
  let best = -1;
  let bestScore = -Infinity;
  for (let j = 0; j < n; j++) {
    const i = drawCategorical(l, rng);
    const score = Math.log(l[i]) - Math.log(g[i]);
    if (score > bestScore) [best, bestScore] = [i, score];
  }
  return values[best];
}

function drawCategorical(p: number[], rng: Rng): number {
  let u = rng.next();
  for (let i = 0; i < p.length; i++) {
    u -= p[i];
    if (u < 0) return i;
  }
  return p.length - 1;
}

// ---- numeric: adaptive Parzen windows over the (log-)range -----------------------------------

interface Parzen {
  mus: number[];
  sigmas: number[];
  lo: number;
  hi: number;
}

/**
 * Gaussian windows at each observation plus a prior window over the whole range (hyperopt's
 * adaptive_parzen_normal): each sigma is the larger gap to its sorted neighbours, clipped to
 * [range / min(100, n + 1), range].
 */
export function fitParzen(xs: number[], lo: number, hi: number): Parzen {
  const range = hi - lo;
  const mus = [...xs, (lo + hi) / 2].sort((a, b) => a - b);
  const minSigma = range / Math.min(100, xs.length + 1);
  const sigmas = mus.map((m, i) => {
    const left = i > 0 ? m - mus[i - 1] : m - lo;
    const right = i < mus.length - 1 ? mus[i + 1] - m : hi - m;
    return Math.min(range, Math.max(minSigma, left, right));
  });
  // the prior window is as wide as the range
  const prior = mus.indexOf((lo + hi) / 2);
  sigmas[prior] = range;
  return { mus, sigmas, lo, hi };
}

/** Density of the mixture truncated to [lo, hi] at x. */
export function parzenDensity(pz: Parzen, x: number): number {
  let sum = 0;
  for (let i = 0; i < pz.mus.length; i++) {
    const s = pz.sigmas[i];
    const mass = normalCdf((pz.hi - pz.mus[i]) / s) - normalCdf((pz.lo - pz.mus[i]) / s);
    const z = (x - pz.mus[i]) / s;
    sum += Math.exp(-0.5 * z * z) / (s * Math.sqrt(2 * Math.PI) * Math.max(mass, 1e-12));
  }
  return sum / pz.mus.length;
}

function drawParzen(pz: Parzen, rng: Rng): number {
  const i = rng.int(pz.mus.length);
  // truncate by rejection; after 16 misses clip (only a window far outside the range misses that often)
  for (let t = 0; t < 16; t++) {
    const x = pz.mus[i] + pz.sigmas[i] * rng.normal();
    if (x >= pz.lo && x <= pz.hi) return x;
  }
  return Math.min(pz.hi, Math.max(pz.lo, pz.mus[i]));
}

function suggestNumeric(
  p: Exclude<Parameter, { values: unknown[] }>,
  good: number[],
  bad: number[],
  rng: Rng,
  n: number,
): number {
  const [lo, hi] = internalBounds(p);
  if (!(hi > lo)) return fromInternal(p, lo);
  const l = fitParzen(
    good.map((v) => toInternal(p, v)),
    lo,
    hi,
  );
  const g = fitParzen(
    bad.map((v) => toInternal(p, v)),
    lo,
    hi,
  );
  let best = lo;
  let bestScore = -Infinity;
  for (let j = 0; j < n; j++) {
    const x = drawParzen(l, rng);
    const score = Math.log(parzenDensity(l, x)) - Math.log(parzenDensity(g, x));
    if (score > bestScore) [best, bestScore] = [x, score];
  }
  return fromInternal(p, best);
}

/** Standard normal CDF via erf (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7). */
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

import type { Rng } from '@nnq/nn';
import { z } from 'zod';

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const json: z.ZodType<unknown> = z.unknown();
const values = z.array(json).min(1, 'must hold at least one value').max(1000, 'must hold at most 1000 values');

/**
 * One dimension of a search space:
 * - `choice`: one of `values` (categorical, any JSON);
 * - `grid`: like choice, and the grid method enumerates it;
 * - `uniform`: a real in [min, max];
 * - `loguniform`: a real in [min, max] whose logarithm is uniform (learning rates);
 * - `int`: an integer in [min, max] in steps of `step` (uniform, or log-uniform with `log`).
 */
export const ParameterSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('choice'), values }).strict(),
  z.object({ type: z.literal('grid'), values }).strict(),
  z.object({ type: z.literal('uniform'), min: finite, max: finite }).strict(),
  z.object({ type: z.literal('loguniform'), min: z.number().positive('must be greater than 0'), max: finite }).strict(),
  z
    .object({
      type: z.literal('int'),
      min: z.number().int('must be an integer'),
      max: z.number().int('must be an integer'),
      step: z.number().int('must be an integer').min(1, 'must be at least 1').default(1),
      log: z.boolean().default(false),
    })
    .strict(),
]);
export type Parameter = z.output<typeof ParameterSchema>;
/** Parameter values of one trial, by config path. */
export type TrialParams = Record<string, unknown>;

/** Is the parameter categorical (values enumerated) rather than numeric? */
export function isCategorical(p: Parameter): p is Extract<Parameter, { values: unknown[] }> {
  return p.type === 'choice' || p.type === 'grid';
}

/** Problems of a parameter's range (min below max, log of a positive range), by path. */
export function rangeProblems(p: Parameter, path: string): string[] {
  if (isCategorical(p)) return [];
  if (!(p.min <= p.max)) return [`${path}.max: must be at least min (${p.min})`];
  if (p.type === 'int' && p.log && p.min < 1) return [`${path}.min: must be at least 1 for a log-scaled int`];
  return [];
}

/** The integers of an int parameter: min, min+step, ... <= max. */
export function intValues(p: Extract<Parameter, { type: 'int' }>): number[] {
  const out: number[] = [];
  for (let v = p.min; v <= p.max && out.length < 100_000; v += p.step) out.push(v);
  return out;
}

/** Round a real to the nearest allowed integer of an int parameter. */
export function snapInt(p: Extract<Parameter, { type: 'int' }>, x: number): number {
  const k = Math.round((x - p.min) / p.step);
  const top = Math.floor((p.max - p.min) / p.step);
  return p.min + Math.min(top, Math.max(0, k)) * p.step;
}

/** Is the numeric parameter searched on a log scale? */
export function isLog(p: Parameter): boolean {
  return p.type === 'loguniform' || (p.type === 'int' && p.log);
}

/**
 * The internal bounds of a numeric parameter: where TPE places its Parzen windows
 * (log space for log-scaled parameters; ints widened by half a step so each integer has equal mass).
 */
export function internalBounds(p: Exclude<Parameter, { values: unknown[] }>): [number, number] {
  const half = p.type === 'int' ? p.step / 2 : 0;
  const lo = p.min - half;
  const hi = p.max + half;
  return isLog(p) ? [Math.log(Math.max(lo, p.min / 2 || 1e-12)), Math.log(hi)] : [lo, hi];
}

/** Internal coordinate -> parameter value. */
export function fromInternal(p: Exclude<Parameter, { values: unknown[] }>, x: number): number {
  const v = isLog(p) ? Math.exp(x) : x;
  if (p.type === 'int') return snapInt(p, v);
  return Math.min(p.max, Math.max(p.min, v));
}

/** Parameter value -> internal coordinate. */
export function toInternal(p: Exclude<Parameter, { values: unknown[] }>, v: number): number {
  return isLog(p) ? Math.log(v) : v;
}

/** A value drawn from the parameter's prior: uniform over values, range, or log range. */
export function samplePrior(p: Parameter, rng: Rng): unknown {
  if (isCategorical(p)) return p.values[rng.int(p.values.length)];
  if (p.type === 'int') {
    if (!p.log) return p.min + rng.int(Math.floor((p.max - p.min) / p.step) + 1) * p.step;
    const [lo, hi] = internalBounds(p);
    return fromInternal(p, lo + rng.next() * (hi - lo));
  }
  if (p.type === 'loguniform') return fromInternal(p, Math.log(p.min) + rng.next() * Math.log(p.max / p.min));
  return p.min + rng.next() * (p.max - p.min);
}

/** Position of a value in [0, 1] along its axis (the dashboard's parallel coordinates). */
export function axisPosition(p: Parameter, v: unknown): number {
  if (isCategorical(p)) {
    const i = p.values.findIndex((x) => JSON.stringify(x) === JSON.stringify(v));
    return p.values.length > 1 ? Math.max(0, i) / (p.values.length - 1) : 0.5;
  }
  const [lo, hi] = isLog(p) ? [Math.log(p.min), Math.log(p.max)] : [p.min, p.max];
  const x = isLog(p) ? Math.log(Number(v)) : Number(v);
  return hi > lo ? Math.min(1, Math.max(0, (x - lo) / (hi - lo))) : 0.5;
}

/** Trial seed k of a sweep: distinct, reproducible streams per trial (splitmix-style mixing). */
export function trialSeed(seed: number, k: number, salt = 0): number {
  let z = (seed + Math.imul(k + 1, 0x9e3779b9) + Math.imul(salt, 0x85ebca6b)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x7feb352d) >>> 0;
  z = Math.imul(z ^ (z >>> 15), 0x846ca68b) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

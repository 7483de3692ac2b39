import { z } from 'zod';
import { lookupBytes } from './byte-lookup';
import type { Dataset, FeatureArray, LabelArray } from './dataset';
import { SourceError, formatIssues } from './errors';

/**
 * Preprocessing: plain JSON, fitted on the training split, stored with the model and replayed
 * by `gatherBatch` (training) and `predict`. Feature steps apply in order:
 * - scale: x' = factor * x            (uint8 images: factor 1/255)
 * - standardize: x' = (x - mean) / std  (per feature; mean and std of the training rows)
 * target: one-hot of the class index over `classes` (classification), or the values as they are.
 */
export const PreprocessingStepSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('scale'), factor: z.number().refine(Number.isFinite, 'must be finite') }).strict(),
  z
    .object({
      type: z.literal('standardize'),
      mean: z.array(z.number().refine(Number.isFinite, 'must be finite')),
      std: z.array(z.number().positive('must be positive').refine(Number.isFinite, 'must be finite')),
    })
    .strict()
    .refine((s) => s.mean.length === s.std.length, { message: 'mean and std must have one entry per feature' }),
]);

export const PreprocessingSchema = z
  .object({
    steps: z.array(PreprocessingStepSchema).default([]),
    target: z
      .discriminatedUnion('type', [
        z.object({ type: z.literal('onehot'), classes: z.array(z.string()).min(1) }).strict(),
        z.object({ type: z.literal('identity'), width: z.number().int().min(1) }).strict(),
      ])
      .optional(),
  })
  .strict();

export type PreprocessingStep = z.output<typeof PreprocessingStepSchema>;
export type Preprocessing = z.output<typeof PreprocessingSchema>;

/** Validate unknown JSON (e.g. read from a model file) as preprocessing. */
export function parsePreprocessing(json: unknown): Preprocessing {
  const r = PreprocessingSchema.safeParse(json);
  if (!r.success) throw new SourceError(formatIssues(r.error.issues), 'preprocessing');
  return r.data;
}

export interface FitOptions {
  /** Multiply by this first; 'auto' (default) is 1/255 for uint8 features and nothing otherwise. */
  scale?: number | 'auto' | false;
  /** Standardize every feature with the mean and std of the training rows (default false). */
  standardize?: boolean;
}

/** Fit preprocessing on the training rows only (never validation or test). */
export function fitPreprocessing(d: Dataset, trainRows: ArrayLike<number>, options: FitOptions = {}): Preprocessing {
  const steps: PreprocessingStep[] = [];
  const scale = options.scale ?? 'auto';
  const factor = scale === 'auto' ? (d.x instanceof Uint8Array ? 1 / 255 : 1) : scale === false ? 1 : scale;
  if (factor !== 1) steps.push({ type: 'scale', factor });
  if (options.standardize) {
    if (trainRows.length === 0) throw new RangeError('cannot standardize on an empty training split');
    // two passes in float64: mean, then the mean squared deviation (population std)
    const F = d.features;
    const sum = new Float64Array(F);
    for (let k = 0; k < trainRows.length; k++) {
      const base = trainRows[k] * F;
      for (let j = 0; j < F; j++) sum[j] += d.x[base + j] * factor;
    }
    const mean = Array.from(sum, (s) => s / trainRows.length);
    const sq = new Float64Array(F);
    for (let k = 0; k < trainRows.length; k++) {
      const base = trainRows[k] * F;
      for (let j = 0; j < F; j++) {
        const dev = d.x[base + j] * factor - mean[j];
        sq[j] += dev * dev;
      }
    }
    // a constant feature (e.g. an always-black border pixel) keeps std 1 instead of dividing by 0
    const std = Array.from(sq, (s) => {
      const v = Math.sqrt(s / trainRows.length);
      return v > 1e-12 ? v : 1;
    });
    steps.push({ type: 'standardize', mean, std });
  }
  const target: Preprocessing['target'] =
    d.targets.kind === 'labels'
      ? { type: 'onehot', classes: [...(d.classes ?? [])] }
      : { type: 'identity', width: d.targets.width };
  return { steps, target };
}

/** x' = mul * x + add, per feature, in float32. */
export interface Affine {
  mul: Float32Array;
  add: Float32Array;
}

/**
 * The feature steps folded into one affine map (every step is affine), for the ONNX export:
 * a Mul then an Add in float32 reproduces `gatherBatch` bit for bit.
 */
export function toAffine(p: Preprocessing | undefined, features: number): Affine {
  const mul = new Float64Array(features).fill(1);
  const add = new Float64Array(features);
  for (const step of p?.steps ?? []) {
    if (step.type === 'scale') {
      for (let j = 0; j < features; j++) {
        mul[j] *= step.factor;
        add[j] *= step.factor;
      }
    } else {
      if (step.mean.length !== features) {
        throw new RangeError(`standardize has ${step.mean.length} features, the data has ${features}`);
      }
      for (let j = 0; j < features; j++) {
        mul[j] /= step.std[j];
        add[j] = (add[j] - step.mean[j]) / step.std[j];
      }
    }
  }
  return { mul: Float32Array.from(mul), add: Float32Array.from(add) };
}

const IDENTITY = {};

/** The affine map, and when it is the same for every feature, its values for the bytes 0-255. */
type GatherMap = Affine & { bytes?: Float32Array };

const gatherCache = new WeakMap<object, Map<number, GatherMap>>();

function cachedGatherMap(p: Preprocessing | undefined, features: number): GatherMap {
  const key = p ?? IDENTITY;
  let byWidth = gatherCache.get(key);
  if (!byWidth) gatherCache.set(key, (byWidth = new Map()));
  let a = byWidth.get(features);
  if (!a) byWidth.set(features, (a = withByteTable(toAffine(p, features))));
  return a;
}

/** A table of the map over uint8 inputs, when one map serves every feature (scale steps only). */
function withByteTable(a: Affine): GatherMap {
  const uniform = a.mul.every((m) => m === a.mul[0]) && a.add.every((v) => v === a.add[0]);
  if (!uniform || a.mul.length === 0) return a;
  const bytes = new Float32Array(256);
  for (let v = 0; v < 256; v++) bytes[v] = Math.fround(Math.fround(v * a.mul[0]) + a.add[0]);
  return { ...a, bytes };
}

/** Rows stored in chunks of `chunkRows` rows (an in-memory Dataset is one chunk). */
export interface ChunkedRows {
  rows: number;
  features: number;
  chunkRows: number;
  targets: { kind: 'labels' | 'values'; width: number };
  /** Get chunk c's features [rows, features] and targets (labels, or values [rows, width]). */
  chunk(c: number): { x: FeatureArray; t: LabelArray | Float32Array };
}

export interface Batch {
  /** [rows, features], float32, preprocessed. */
  x: Float32Array;
  /** [rows, targetWidth]: one-hot for classification. */
  y: Float32Array;
  rows: number;
}

/**
 * Materialise rows `indices` into float32 X [n, features] and Y [n, targetWidth], applying the
 * recorded preprocessing. The hot path of every worker: pass outX / outY to reuse buffers; no
 * allocation per row. Rows are written in the order of `indices`.
 */
export function gatherBatch(
  d: Dataset,
  indices: ArrayLike<number>,
  preprocessing?: Preprocessing,
  outX?: Float32Array,
  outY?: Float32Array,
): Batch {
  const one = { x: d.x, t: d.targets.data };
  return gatherChunked(
    { rows: d.rows, features: d.features, chunkRows: d.rows, targets: d.targets, chunk: () => one },
    indices,
    preprocessing,
    outX,
    outY,
  );
}

/** `gatherBatch` over chunked storage (the worker cache); chunks must already be present. */
export function gatherChunked(
  src: ChunkedRows,
  indices: ArrayLike<number>,
  preprocessing?: Preprocessing,
  outX?: Float32Array,
  outY?: Float32Array,
): Batch {
  const n = indices.length;
  const F = src.features;
  const W = src.targets.width;
  const x = outX ?? new Float32Array(n * F);
  const y = outY ?? new Float32Array(n * W);
  if (x.length < n * F) throw new RangeError(`outX holds ${x.length} values, the batch needs ${n}x${F}`);
  if (y.length < n * W) throw new RangeError(`outY holds ${y.length} values, the batch needs ${n}x${W}`);
  const { mul, add, bytes } = cachedGatherMap(preprocessing, F);
  const onehot = src.targets.kind === 'labels';
  if (onehot) y.fill(0, 0, n * W);
  const fround = Math.fround;
  for (let k = 0; k < n; k++) {
    const r = indices[k];
    if (!(r >= 0 && r < src.rows && Number.isInteger(r))) {
      throw new RangeError(`row index ${r} at position ${k} is outside [0, ${src.rows})`);
    }
    const c = Math.floor(r / src.chunkRows);
    const local = r - c * src.chunkRows;
    const { x: cx, t: ct } = src.chunk(c);
    // x' = mul * x + add, rounded to float32 after each op as an ONNX Mul then Add would
    const from = local * F;
    const to = k * F;
    // (uint8 features and one map for all: the same values, looked up)
    if (bytes && cx instanceof Uint8Array) lookupBytes(x, to, cx, from, F, bytes);
    else for (let j = 0; j < F; j++) x[to + j] = fround(fround(cx[from + j] * mul[j]) + add[j]);
    if (onehot) y[k * W + ct[local]] = 1;
    else for (let j = 0; j < W; j++) y[k * W + j] = ct[local * W + j];
  }
  return { x, y, rows: n };
}

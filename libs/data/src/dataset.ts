import type { DatasetSource, UploadSource } from './source';

/** Feature storage: uint8 stays uint8 (images) until a batch is materialised; all else float32. */
export type FeatureArray = Uint8Array | Float32Array;
export type FeatureDtype = 'uint8' | 'float32';
/** Class indices, the narrowest unsigned type that holds `classes.length - 1`. */
export type LabelArray = Uint8Array | Uint16Array | Uint32Array;
export type LabelDtype = 'uint8' | 'uint16' | 'uint32';
export type Task = 'classification' | 'regression';

/**
 * Targets of a dataset, row-major.
 * - labels: one class index per row (classification); materialised as one-hot [rows, width],
 *   width = classes.length.
 * - values: [rows, width] numbers (regression).
 */
export type Targets =
  { kind: 'labels'; data: LabelArray; width: number } | { kind: 'values'; data: Float32Array; width: number };

/** An in-memory dataset: x [rows, features] row-major, targets per row. */
export interface Dataset {
  rows: number;
  /** Width of one row of x (the product of featureShape). */
  features: number;
  /** Shape of one input, e.g. [28, 28] for Fashion-MNIST, [features] for tables. */
  featureShape: number[];
  x: FeatureArray;
  targets: Targets;
  task: Task;
  /** Class names by class index (classification). */
  classes?: string[];
  /** Names of the feature columns (CSV / JSON records). */
  featureNames?: string[];
  /** Rows [start, end) that form an official test set (Fashion-MNIST's 10,000 test images). */
  officialTest?: { start: number; end: number };
  /** Where the rows came from (absolute paths), or the upload that sent them. */
  source: DatasetSource | UploadSource;
}

export function featureDtype(x: FeatureArray): FeatureDtype {
  return x instanceof Uint8Array ? 'uint8' : 'float32';
}

export function labelDtype(a: LabelArray): LabelDtype {
  return a instanceof Uint8Array ? 'uint8' : a instanceof Uint16Array ? 'uint16' : 'uint32';
}

/** The narrowest label array for `classes` classes. */
export function allocLabels(rows: number, classes: number): LabelArray {
  if (classes <= 0x100) return new Uint8Array(rows);
  if (classes <= 0x10000) return new Uint16Array(rows);
  return new Uint32Array(rows);
}

/** Width of one materialised target row (one-hot width for labels). */
export function targetWidth(d: Pick<Dataset, 'targets'>): number {
  return d.targets.width;
}

/** Check the invariants of a dataset (array lengths, label range); throws RangeError. */
export function assertDataset(d: Dataset): void {
  const { rows, features } = d;
  if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`dataset must have at least one row, got ${rows}`);
  if (features !== d.featureShape.reduce((a, b) => a * b, 1)) {
    throw new RangeError(`features ${features} != product of featureShape [${d.featureShape.join(', ')}]`);
  }
  if (d.x.length !== rows * features)
    throw new RangeError(`x holds ${d.x.length} values, expected ${rows}x${features}`);
  const t = d.targets;
  const want = t.kind === 'labels' ? rows : rows * t.width;
  if (t.data.length !== want) throw new RangeError(`targets hold ${t.data.length} values, expected ${want}`);
  if (t.kind === 'labels') {
    if (d.task !== 'classification' || !d.classes || d.classes.length !== t.width) {
      throw new RangeError('label targets need task classification and one class name per one-hot column');
    }
    for (let i = 0; i < rows; i++) {
      if (t.data[i] >= t.width) throw new RangeError(`row ${i}: label ${t.data[i]} >= ${t.width} classes`);
    }
  }
}

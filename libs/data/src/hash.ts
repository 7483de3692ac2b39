import { createHash } from 'node:crypto';
import { endianness } from 'node:os';
import { featureDtype, labelDtype, type Dataset, type FeatureDtype, type LabelDtype } from './dataset';

/** Target storage: class indices, or float32 values [rows, width]. */
export type TargetLayout =
  { kind: 'labels'; dtype: LabelDtype; width: number } | { kind: 'values'; dtype: 'float32'; width: number };

/** What the content hash covers besides the bytes: shapes, dtypes, task and class names. */
export interface DatasetLayout {
  format: 'nnq-dataset/1';
  rows: number;
  features: number;
  featureShape: number[];
  dtype: FeatureDtype;
  task: Dataset['task'];
  targets: TargetLayout;
  classes: string[] | null;
  officialTest: { start: number; end: number } | null;
}

export function datasetLayout(d: Dataset): DatasetLayout {
  // fixed key order: this object is part of the hashed bytes
  return {
    format: 'nnq-dataset/1',
    rows: d.rows,
    features: d.features,
    featureShape: [...d.featureShape],
    dtype: featureDtype(d.x),
    task: d.task,
    targets:
      d.targets.kind === 'labels'
        ? { kind: 'labels', dtype: labelDtype(d.targets.data), width: d.targets.width }
        : { kind: 'values', dtype: 'float32', width: d.targets.width },
    classes: d.classes ? [...d.classes] : null,
    officialTest: d.officialTest ? { start: d.officialTest.start, end: d.officialTest.end } : null,
  };
}

function assertLittleEndian(): void {
  // typed arrays are hashed and stored as their in-memory bytes, which the format fixes to LE
  if (endianness() !== 'LE') throw new Error('nnq datasets are little-endian; this host is big-endian');
}

export function bytesOf(a: ArrayBufferView): Buffer {
  assertLittleEndian();
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Content hash of a dataset: sha256 (hex) of the canonical bytes
 * uint32le(len(layout)) || layout JSON || x bytes || target bytes, all little-endian.
 * The source is not hashed: the same rows from another path are the same dataset.
 */
export function datasetHash(d: Dataset): string {
  const layout = Buffer.from(JSON.stringify(datasetLayout(d)), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(layout.length);
  return createHash('sha256')
    .update(len)
    .update(layout)
    .update(bytesOf(d.x))
    .update(bytesOf(d.targets.data))
    .digest('hex');
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

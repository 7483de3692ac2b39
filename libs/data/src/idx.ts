import { join } from 'node:path';
import { allocLabels, type Dataset } from './dataset';
import { DataError } from './errors';
import { gunzipFile, isGzip } from './files';
import { checkSourceDir, defaultFileAccess, readSourceFile, type FileAccess } from './file-access';
import { FASHION_MNIST_CLASSES, type FashionMnistSource, type IdxSource } from './source';

/**
 * IDX, the format of MNIST and Fashion-MNIST (yann.lecun.com/exdb/mnist): a 4-byte magic
 * `00 00 <type> <ndims>`, then ndims big-endian uint32 dimensions, then the values big-endian,
 * row-major. The first dimension counts the items. Read raw or gzip (by the 1f 8b magic bytes).
 */
export interface IdxTensor {
  file: string;
  type: IdxType;
  dims: number[];
  /** uint8 data stays Uint8Array; every other type is converted to Float32Array. */
  data: Uint8Array | Float32Array;
  /** Byte offset of the first value (in the decompressed bytes). */
  dataOffset: number;
}

export type IdxType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

const TYPES: Record<number, { type: IdxType; size: number }> = {
  0x08: { type: 'uint8', size: 1 },
  0x09: { type: 'int8', size: 1 },
  0x0b: { type: 'int16', size: 2 },
  0x0c: { type: 'int32', size: 4 },
  0x0d: { type: 'float32', size: 4 },
  0x0e: { type: 'float64', size: 8 },
};

/** Read an IDX file (raw or .gz) and validate magic, dimensions and length. */
export function readIdx(file: string, access: FileAccess = defaultFileAccess()): IdxTensor {
  const raw = readSourceFile(file, access);
  if (raw.length === 0) throw new DataError(file, 'empty file', { byteOffset: 0 });
  const bytes = isGzip(raw) ? gunzipFile(raw, file, access.maxBytes) : raw;
  return parseIdx(bytes, file);
}

/** Parse the bytes of an IDX file; byte offsets in errors refer to these (decompressed) bytes. */
export function parseIdx(bytes: Uint8Array, file: string): IdxTensor {
  if (bytes.length === 0) throw new DataError(file, 'empty file', { byteOffset: 0 });
  if (bytes.length < 4)
    throw new DataError(file, `too short for an IDX header (${bytes.length} bytes)`, { byteOffset: bytes.length });
  const magic = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
  const hex = `0x${magic.toString(16).padStart(8, '0')}`;
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DataError(file, `wrong IDX magic number ${hex}: the first two bytes must be zero`, { byteOffset: 0 });
  }
  const t = TYPES[bytes[2]];
  if (!t) {
    throw new DataError(file, `wrong IDX magic number ${hex}: unknown type code 0x${bytes[2].toString(16)}`, {
      byteOffset: 2,
    });
  }
  const ndims = bytes[3];
  if (ndims === 0) throw new DataError(file, `wrong IDX magic number ${hex}: zero dimensions`, { byteOffset: 3 });
  const dataOffset = 4 + 4 * ndims;
  if (bytes.length < dataOffset) {
    throw new DataError(
      file,
      `truncated IDX header: ${ndims} dimensions need ${dataOffset} bytes, file has ${bytes.length}`,
      {
        byteOffset: bytes.length,
      },
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let d = 0; d < ndims; d++) {
    const size = view.getUint32(4 + 4 * d, false);
    if (size === 0) throw new DataError(file, `dimension ${d} is zero`, { byteOffset: 4 + 4 * d });
    dims.push(size);
    count *= size;
  }
  const expected = dataOffset + count * t.size;
  if (bytes.length < expected) {
    throw new DataError(
      file,
      `truncated IDX data: dimensions [${dims.join(', ')}] of ${t.type} need ${expected} bytes, ` +
        `file ends at byte ${bytes.length}`,
      { byteOffset: bytes.length },
    );
  }
  if (bytes.length > expected) {
    throw new DataError(file, `${bytes.length - expected} unexpected bytes after the IDX data`, {
      byteOffset: expected,
    });
  }
  let data: Uint8Array | Float32Array;
  if (t.type === 'uint8') {
    data = Uint8Array.from(bytes.subarray(dataOffset, expected));
  } else {
    data = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      const at = dataOffset + i * t.size;
      const v =
        t.type === 'int8'
          ? view.getInt8(at)
          : t.type === 'int16'
            ? view.getInt16(at, false)
            : t.type === 'int32'
              ? view.getInt32(at, false)
              : t.type === 'float32'
                ? view.getFloat32(at, false)
                : view.getFloat64(at, false);
      if (!Number.isFinite(v) || !Number.isFinite(Math.fround(v))) {
        throw new DataError(file, `NaN or infinite value ${v} (item ${Math.floor(i / (count / dims[0]))})`, {
          byteOffset: at,
        });
      }
      data[i] = v;
    }
  }
  return { file, type: t.type, dims, data, dataOffset };
}

/** Pair an images tensor with a labels tensor into a classification dataset. */
export function idxDataset(
  images: IdxTensor,
  labels: IdxTensor,
  source: IdxSource | FashionMnistSource,
  names?: readonly string[],
): Dataset {
  if (labels.dims.length !== 1) {
    throw new DataError(labels.file, `labels must be 1-D, got dimensions [${labels.dims.join(', ')}]`, {
      byteOffset: 3,
    });
  }
  const rows = images.dims[0];
  if (labels.dims[0] !== rows) {
    throw new DataError(
      images.file,
      `holds ${rows} images but ${labels.file} holds ${labels.dims[0]} labels: the counts differ`,
      { byteOffset: 4 },
    );
  }
  const lab = labels.data;
  let max = 0;
  for (let i = 0; i < rows; i++) {
    const v = lab[i];
    if (!Number.isInteger(v) || v < 0) {
      throw new DataError(labels.file, `label ${v} of item ${i} is not a class index (a non-negative integer)`, {
        byteOffset: labels.dataOffset + i * sizeOf(labels.type),
      });
    }
    if (v > max) max = v;
  }
  const classes = names ? [...names] : Array.from({ length: max + 1 }, (_, c) => String(c));
  if (max >= classes.length) {
    const i = Array.prototype.findIndex.call(lab, (v: number) => v >= classes.length);
    throw new DataError(
      labels.file,
      `label ${lab[i]} of item ${i} has no class name (${classes.length} classes given)`,
      {
        byteOffset: labels.dataOffset + i * sizeOf(labels.type),
      },
    );
  }
  const data = allocLabels(rows, classes.length);
  data.set(lab);
  const featureShape = images.dims.length === 1 ? [1] : images.dims.slice(1);
  return {
    rows,
    features: featureShape.reduce((a, b) => a * b, 1),
    featureShape,
    x: images.data,
    targets: { kind: 'labels', data, width: classes.length },
    task: 'classification',
    classes,
    source,
  };
}

function sizeOf(type: IdxType): number {
  return Object.values(TYPES).find((t) => t.type === type)!.size;
}

export function loadIdx(source: IdxSource, access: FileAccess = defaultFileAccess()): Dataset {
  return idxDataset(readIdx(source.images, access), readIdx(source.labels, access), source, source.classes);
}

/** File names of Debian's dataset-fashion-mnist package (the names of the original release). */
export const FASHION_MNIST_FILES = {
  train: { images: 'train-images-idx3-ubyte.gz', labels: 'train-labels-idx1-ubyte.gz' },
  test: { images: 't10k-images-idx3-ubyte.gz', labels: 't10k-labels-idx1-ubyte.gz' },
} as const;

/** Fashion-MNIST: 60,000 train + 10,000 test 28x28 uint8 images of 10 classes. */
export function loadFashionMnist(source: FashionMnistSource, access: FileAccess = defaultFileAccess()): Dataset {
  checkSourceDir(source.dir, access);
  const part = (p: 'train' | 'test') =>
    idxDataset(
      readIdx(join(source.dir, FASHION_MNIST_FILES[p].images), access),
      readIdx(join(source.dir, FASHION_MNIST_FILES[p].labels), access),
      source,
      FASHION_MNIST_CLASSES,
    );
  if (source.split !== 'all') return part(source.split);
  const train = part('train');
  const test = part('test');
  if (train.features !== test.features) {
    throw new DataError(
      source.dir,
      `train images are ${train.featureShape.join('x')}, test images ${test.featureShape.join('x')}`,
    );
  }
  if (!(train.x instanceof Uint8Array) || !(test.x instanceof Uint8Array)) {
    throw new DataError(source.dir, 'Fashion-MNIST images must be uint8');
  }
  const x = new Uint8Array(train.x.length + test.x.length);
  x.set(train.x);
  x.set(test.x, train.x.length);
  const labels = allocLabels(train.rows + test.rows, FASHION_MNIST_CLASSES.length);
  labels.set(train.targets.data);
  labels.set(test.targets.data, train.rows);
  return {
    ...train,
    rows: train.rows + test.rows,
    x,
    targets: { kind: 'labels', data: labels, width: FASHION_MNIST_CLASSES.length },
    officialTest: { start: train.rows, end: train.rows + test.rows },
  };
}

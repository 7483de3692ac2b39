import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { hasTool } from '../../../test/support/tools';
import { DataError } from './errors';
import { dataFileAccess } from './file-access';
import { readIdx as readIdxFrom } from './idx';
import { loadDataset as loadFrom } from './load';
import { FASHION_MNIST_DIR, fashionMnistSource, type DatasetSourceInput } from './source';

const dir = mkdtempSync(join(tmpdir(), 'nnq-idx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// the temp dir and the Fashion-MNIST dir are this test's data roots
const access = dataFileAccess({ dataRoots: `${dir}:${FASHION_MNIST_DIR}` });
const loadDataset = (s: DatasetSourceInput) => loadFrom(s, access);
const readIdx = (file: string) => readIdxFrom(file, access);

/** An IDX file: magic 00 00 <type> <ndims>, big-endian dims, then the data. */
function idx(dims: number[], data: number[], type = 0x08): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = type;
  head[3] = dims.length;
  dims.forEach((d, k) => head.writeUInt32BE(d, 4 + 4 * k));
  let body: Buffer;
  if (type === 0x08) body = Buffer.from(data);
  else {
    body = Buffer.alloc(4 * data.length);
    data.forEach((v, k) => body.writeFloatBE(v, 4 * k));
  }
  return Buffer.concat([head, body]);
}

function file(name: string, bytes: Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

const images = idx([3, 2, 2], [0, 1, 2, 3, 10, 11, 12, 13, 252, 253, 254, 255]);
const labels = idx([3], [2, 0, 2]);

describe('IDX reader', () => {
  it('reads raw and gzip files alike; uint8 stays uint8', () => {
    const raw = loadDataset({ type: 'idx', images: file('i.idx', images), labels: file('l.idx', labels) });
    const gz = loadDataset({
      type: 'idx',
      images: file('i.idx.gz', gzipSync(images)),
      labels: file('l.idx.gz', gzipSync(labels)),
    });
    expect(raw.x).toBeInstanceOf(Uint8Array);
    expect(raw).toMatchObject({ rows: 3, features: 4, featureShape: [2, 2], classes: ['0', '1', '2'] });
    expect(Array.from(raw.targets.data)).toEqual([2, 0, 2]);
    expect(Array.from(gz.x)).toEqual(Array.from(raw.x));
  });

  it('converts float32 images and names classes', () => {
    const d = loadDataset({
      type: 'idx',
      images: file('f.idx', idx([2, 1], [0.5, -2], 0x0d)),
      labels: file('fl.idx', idx([2], [1, 0])),
      classes: ['cat', 'dog'],
    });
    expect(d.x).toBeInstanceOf(Float32Array);
    expect(Array.from(d.x)).toEqual([0.5, -2]);
    expect(d.classes).toEqual(['cat', 'dog']);
  });

  describe('refuses bad input naming the file and byte offset', () => {
    const truncatedGz = gzipSync(images).subarray(0, 20);
    const corruptGz = gzipSync(images);
    corruptGz[corruptGz.length - 6] ^= 0xff; // the CRC32 of the trailer
    const bad: Array<[string, Buffer, RegExp]> = [
      ['truncated gzip', truncatedGz, /trunc\.gz at byte 20: truncated gzip stream \(unexpected end of file/],
      ['corrupt gzip', corruptGz, /corrupt-gzip\.idx: corrupt gzip stream: incorrect data check/],
      ['wrong magic', Buffer.from([0x08, 0x03, 0, 0, 0, 0]), /at byte 0: wrong IDX magic number 0x08030000/],
      [
        'unknown type code',
        Buffer.from([0, 0, 0x07, 1, 0, 0, 0, 1, 0]),
        /at byte 2: wrong IDX magic .* unknown type code 0x7/,
      ],
      ['zero dimensions', Buffer.from([0, 0, 8, 0]), /at byte 3: wrong IDX magic number 0x00000800: zero dimensions/],
      ['truncated header', Buffer.from([0, 0, 8, 3, 0, 0, 0, 1]), /at byte 8: truncated IDX header/],
      [
        'truncated data',
        images.subarray(0, images.length - 1),
        /at byte 27: truncated IDX data: dimensions \[3, 2, 2\] of uint8 need 28 bytes/,
      ],
      [
        'trailing bytes',
        Buffer.concat([labels, Buffer.from([1, 2])]),
        /at byte 11: 2 unexpected bytes after the IDX data/,
      ],
      ['empty file', Buffer.alloc(0), /at byte 0: empty file/],
      ['NaN value', idx([2, 1], [1, NaN], 0x0d), /at byte 16: NaN or infinite value NaN \(item 1\)/],
      ['infinite value', idx([2, 1], [Infinity, 1], 0x0d), /at byte 12: NaN or infinite value Infinity/],
    ];
    for (const [name, bytes, message] of bad) {
      it(name, () => {
        const path = file(name === 'truncated gzip' ? 'trunc.gz' : `${name.replace(/\W+/g, '-')}.idx`, bytes);
        expect(() => readIdx(path)).toThrow(DataError);
        expect(() => readIdx(path)).toThrow(message);
        expect(() => readIdx(path)).toThrow(path);
      });
    }

    it('label and image counts that differ', () => {
      const i = file('count-i.idx', images);
      const l = file('count-l.idx', idx([2], [0, 1]));
      expect(() => loadDataset({ type: 'idx', images: i, labels: l })).toThrow(
        /count-i\.idx at byte 4: holds 3 images but .*count-l\.idx holds 2 labels: the counts differ/,
      );
    });

    it('labels that are not 1-D, or have no class name', () => {
      const i = file('c-i.idx', images);
      const l2 = file('c-l2.idx', idx([3, 1], [0, 1, 0]));
      expect(() => loadDataset({ type: 'idx', images: i, labels: l2 })).toThrow(
        /c-l2\.idx at byte 3: labels must be 1-D/,
      );
      const l = file('c-l.idx', labels);
      expect(() => loadDataset({ type: 'idx', images: i, labels: l, classes: ['a', 'b'] })).toThrow(
        /c-l\.idx at byte 8: label 2 of item 0 has no class name \(2 classes given\)/,
      );
    });
  });
});

const haveFashion = hasTool('fashion-mnist', "libs/data/src/idx.spec.ts's Fashion-MNIST tests");

describe('Fashion-MNIST (Debian dataset-fashion-mnist)', () => {
  it.skipIf(!haveFashion)('loads 60,000 + 10,000 28x28 uint8 images of 10 classes', () => {
    const d = loadDataset(fashionMnistSource());
    expect(d).toMatchObject({
      rows: 70_000,
      features: 784,
      featureShape: [28, 28],
      officialTest: { start: 60_000, end: 70_000 },
    });
    expect(d.x).toBeInstanceOf(Uint8Array);
    expect(d.classes).toHaveLength(10);
    const counts = new Array(10).fill(0);
    for (const l of d.targets.data) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(7000)); // 6,000 train + 1,000 test per class
  });

  it.skipIf(!haveFashion)('loads the train or the test files alone', () => {
    const test = loadDataset(fashionMnistSource({ split: 'test' }));
    expect(test.rows).toBe(10_000);
    expect(test.officialTest).toBeUndefined();
  });
});

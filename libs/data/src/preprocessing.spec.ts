import { describe, expect, it } from 'vitest';
import type { Dataset } from './dataset';
import { SourceError } from './errors';
import { fitPreprocessing, gatherBatch, parsePreprocessing, toAffine } from './preprocessing';
import { parseSource } from './source';

const images: Dataset = {
  rows: 4,
  features: 2,
  featureShape: [2],
  x: Uint8Array.from([0, 255, 51, 0, 102, 255, 255, 255]),
  targets: { kind: 'labels', data: Uint8Array.from([0, 2, 1, 2]), width: 3 },
  task: 'classification',
  classes: ['a', 'b', 'c'],
  source: parseSource({ type: 'synthetic', name: 'xor' }),
};

describe('preprocessing', () => {
  it('scales uint8 by 1/255 and one-hots the labels', () => {
    const p = fitPreprocessing(images, [0, 1, 2, 3]);
    expect(p).toEqual({
      steps: [{ type: 'scale', factor: 1 / 255 }],
      target: { type: 'onehot', classes: ['a', 'b', 'c'] },
    });
    const b = gatherBatch(images, [2, 0], p);
    // row 2 is (102, 255), row 0 is (0, 255); float32 Mul then Add, as ONNX would
    expect(Array.from(b.x)).toEqual([Math.fround(102 * Math.fround(1 / 255)), 1, 0, 1]);
    expect(Array.from(b.y)).toEqual([0, 1, 0, 1, 0, 0]);
  });

  it('standardizes with statistics of the training rows only', () => {
    const p = fitPreprocessing(images, [0, 2], { standardize: true });
    const std = p.steps[1];
    expect(std.type).toBe('standardize');
    if (std.type !== 'standardize') return;
    // rows 0 and 2: feature 0 is 0 and 0.4, feature 1 is 1 and 1 (constant: std 1)
    expect(std.mean[0]).toBeCloseTo(0.2, 12);
    expect(std.mean[1]).toBeCloseTo(1, 12);
    expect(std.std[0]).toBeCloseTo(0.2, 12);
    expect(std.std[1]).toBe(1);
    const b = gatherBatch(images, [0, 2], p);
    expect(Array.from(b.x).map((v) => Math.round(v * 1e5) / 1e5)).toEqual([-1, 0, 1, 0]);
  });

  it('folds into one float32 affine map that reproduces gatherBatch bit for bit', () => {
    const p = fitPreprocessing(images, [0, 1, 2], { standardize: true });
    const { mul, add } = toAffine(p, 2);
    const b = gatherBatch(images, [0, 1, 2, 3], p);
    for (let r = 0; r < 4; r++) {
      for (let j = 0; j < 2; j++) {
        expect(b.x[r * 2 + j]).toBe(Math.fround(Math.fround(images.x[r * 2 + j] * mul[j]) + add[j]));
      }
    }
  });

  it('gives every byte value the bits of the float32 Mul then Add, with one map for all features or not', () => {
    // all 256 byte values in both features; scale only (one map: looked up) and standardized (per feature)
    const x = Uint8Array.from({ length: 512 }, (_, i) => i >> 1);
    const all: Dataset = { ...images, rows: 256, x, targets: { kind: 'labels', data: new Uint8Array(256), width: 3 } };
    const rows = Array.from({ length: 256 }, (_, r) => r);
    for (const p of [fitPreprocessing(all, rows), fitPreprocessing(images, [0, 1, 2], { standardize: true })]) {
      const { mul, add } = toAffine(p, 2);
      const b = gatherBatch(all, rows, p);
      for (let i = 0; i < 512; i++) {
        expect(Object.is(b.x[i], Math.fround(Math.fround(all.x[i] * mul[i % 2]) + add[i % 2]))).toBe(true);
      }
    }
  });

  it('round-trips through JSON and refuses malformed preprocessing by path', () => {
    const p = fitPreprocessing(images, [0, 1], { standardize: true });
    expect(parsePreprocessing(JSON.parse(JSON.stringify(p)))).toEqual(p);
    expect(() => parsePreprocessing({ steps: [{ type: 'standardize', mean: [0], std: [0] }] })).toThrow(SourceError);
    expect(() => parsePreprocessing({ steps: [{ type: 'standardize', mean: [0], std: [0] }] })).toThrow(
      /steps\[0\]\.std\[0\]: must be positive/,
    );
  });

  it('reuses the output buffers and copies regression targets', () => {
    const d: Dataset = {
      ...images,
      x: Float32Array.from(images.x),
      task: 'regression',
      classes: undefined,
      targets: { kind: 'values', data: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), width: 2 },
    };
    const outX = new Float32Array(4);
    const outY = new Float32Array(4);
    const b = gatherBatch(d, Uint32Array.from([3, 1]), undefined, outX, outY);
    expect(b.x).toBe(outX);
    expect(Array.from(outX)).toEqual([255, 255, 51, 0]);
    expect(Array.from(outY)).toEqual([7, 8, 3, 4]);
    expect(() => gatherBatch(d, [4])).toThrow(/row index 4 at position 0 is outside \[0, 4\)/);
    expect(() => gatherBatch(d, [0, 1, 2], undefined, outX)).toThrow(/outX holds 4 values, the batch needs 3x2/);
  });
});

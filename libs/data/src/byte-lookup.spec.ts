import { describe, expect, it } from 'vitest';
import { lookupBytes } from './byte-lookup';

const table = Float32Array.from({ length: 256 }, (_, v) => Math.fround(v / 255) - 0.5);

function plain(out: Float32Array, to: number, src: Uint8Array, from: number, n: number): void {
  for (let j = 0; j < n; j++) out[to + j] = table[src[from + j]];
}

describe('lookupBytes', () => {
  it('gives the byte-at-a-time values for every width, row offset and buffer alignment', () => {
    const backing = Uint8Array.from({ length: 2000 }, (_, i) => (i * 97 + 13) & 255);
    for (const shift of [0, 1, 2, 3, 4]) {
      const src = backing.subarray(shift); // word-aligned start or not
      for (const n of [1, 3, 4, 5, 8, 9, 784]) {
        for (const from of [0, 1, 2, 3, 4, 8, 784]) {
          if (from + n > src.length) continue;
          const want = new Float32Array(n + 3).fill(7);
          const got = new Float32Array(n + 3).fill(7);
          plain(want, 3, src, from, n);
          lookupBytes(got, 3, src, from, n, table);
          expect(Buffer.from(got.buffer)).toEqual(Buffer.from(want.buffer));
        }
      }
    }
  });

  it('reads no byte past the row, even when the row ends inside the last word of the array', () => {
    const src = Uint8Array.from([1, 2, 3, 4, 5, 6]); // 1 whole word, then 2 bytes
    const out = new Float32Array(6);
    lookupBytes(out, 0, src, 0, 6, table);
    expect(Array.from(out)).toEqual(Array.from(src, (v) => table[v]));
    const part = new Float32Array(3).fill(9);
    lookupBytes(part, 0, src, 4, 2, table);
    expect(Array.from(part)).toEqual([table[5], table[6], 9]);
  });
});

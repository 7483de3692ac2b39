import { describe, expect, it } from 'vitest';
import { decodeFloat32, decodeFloat32Into, encodeFloat32 } from './tensor-codec';

describe('tensor codec', () => {
  it('round-trips float32 values bit for bit, including NaN payloads and -0', () => {
    const v = new Float32Array([1.5, -0, Number.NaN, Infinity, 3.4028234663852886e38, 1e-45]);
    const back = decodeFloat32(Buffer.from(encodeFloat32(v)), v.length);
    expect(Buffer.from(back.buffer)).toEqual(Buffer.from(v.buffer));
  });
  it('writes little-endian bytes', () => {
    expect([...encodeFloat32(new Float32Array([1]))]).toEqual([0, 0, 0x80, 0x3f]);
  });
  it('refuses a blob of the wrong size', () => {
    expect(() => decodeFloat32(new Uint8Array(6))).toThrow(/multiple of 4 bytes, got 6/);
    expect(() => decodeFloat32(new Uint8Array(8), 3)).toThrow(/expected 3 float32 values, got 2/);
  });
  it('decodes into a given array, from bytes at any offset, or names the sizes that differ', () => {
    const v = new Float32Array([1.5, -2, 3e-40]);
    const bytes = Buffer.concat([Buffer.alloc(3), Buffer.from(encodeFloat32(v))]).subarray(3); // unaligned
    const out = new Float32Array(8).subarray(2, 5); // a view at an offset
    expect(decodeFloat32Into(bytes, out)).toBe(out);
    expect([...out]).toEqual([...v]);
    expect(() => decodeFloat32Into(bytes, new Float32Array(4))).toThrow(
      'expected 4 float32 values (16 bytes), got 12 bytes',
    );
  });
});

/**
 * Half-precision transfer of gradients (run config `gradientTransfer`): 2 bytes a value instead of
 * 4, little-endian. bfloat16 keeps float32's exponent and 8 bits of mantissa; float16 (IEEE 754
 * binary16) 5 exponent bits and 11 of mantissa, overflowing to Infinity past 65504. Both round to
 * nearest, ties to even, so the bytes are a function of the float32 values (deterministic).
 */
export type GradientPrecision = 'float32' | 'bfloat16' | 'float16';

/** Bytes per value on the wire. */
export const bytesPerValue = (p: GradientPrecision): number => (p === 'float32' ? 4 : 2);

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> bfloat16 bits, round to nearest even (NaN stays a quiet NaN). */
export function toBfloat16(x: number): number {
  f32[0] = x;
  const u = u32[0];
  if ((u & 0x7fffffff) > 0x7f800000) return (u >>> 16) | 0x40;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

export function fromBfloat16(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}

/** float32 -> IEEE binary16 bits, round to nearest even, with subnormals, Infinity and NaN. */
export function toFloat16(x: number): number {
  f32[0] = x;
  const u = u32[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    // subnormal: shift the mantissa (with its implicit 1) right, rounding to nearest even
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rest > half || (rest === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // a carry out of the mantissa rolls into the exponent (up to Infinity), as it should
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
  return sign | h;
}

export function fromFloat16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** Encode float32 values at 2 bytes each. */
export function encodeHalf(values: Float32Array, p: Exclude<GradientPrecision, 'float32'>, out?: Buffer): Buffer {
  const b = out ?? Buffer.allocUnsafe(values.length * 2);
  const to = p === 'bfloat16' ? toBfloat16 : toFloat16;
  for (let i = 0; i < values.length; i++) b.writeUInt16LE(to(values[i]), i * 2);
  return b;
}

/** Decode 2-byte values to float32 (exact: every half value is a float32). */
export function decodeHalf(bytes: Uint8Array, p: Exclude<GradientPrecision, 'float32'>): Float32Array {
  if (bytes.byteLength % 2 !== 0)
    throw new RangeError(`a half-precision blob must have an even byte count, got ${bytes.byteLength}`);
  const n = bytes.byteLength / 2;
  const out = new Float32Array(n);
  const from = p === 'bfloat16' ? fromBfloat16 : fromFloat16;
  for (let i = 0; i < n; i++) out[i] = from(bytes[2 * i] | (bytes[2 * i + 1] << 8));
  return out;
}

/** Round float32 values in place to what a transfer at precision p gives back (the in-process trainer). */
export function roundToPrecision(values: Float32Array, p: GradientPrecision): void {
  if (p === 'float32') return;
  const to = p === 'bfloat16' ? toBfloat16 : toFloat16;
  const from = p === 'bfloat16' ? fromBfloat16 : fromFloat16;
  for (let i = 0; i < values.length; i++) values[i] = from(to(values[i]));
}

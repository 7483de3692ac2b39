import { endianness } from 'node:os';

const LITTLE = endianness() === 'LE';

/** Float32Array -> little-endian bytes. On little-endian hosts a zero-copy view. */
export function encodeFloat32(values: Float32Array): Buffer {
  if (LITTLE) return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  const out = Buffer.allocUnsafe(values.byteLength);
  for (let i = 0; i < values.length; i++) out.writeFloatLE(values[i], i * 4);
  return out;
}

/**
 * Float32 values of little-endian bytes without copying where the bytes are 4-byte aligned (the
 * result then shares their memory: keep them unmodified while using it), else as decodeFloat32.
 */
export function viewFloat32(bytes: Uint8Array, expectedLength?: number): Float32Array {
  if (!LITTLE || bytes.byteOffset % 4 !== 0 || bytes.byteLength % 4 !== 0) return decodeFloat32(bytes, expectedLength);
  const n = bytes.byteLength / 4;
  if (expectedLength !== undefined && n !== expectedLength) {
    throw new RangeError(`expected ${expectedLength} float32 values, got ${n}`);
  }
  return new Float32Array(bytes.buffer, bytes.byteOffset, n);
}

/** Little-endian bytes -> Float32Array (a fresh, aligned copy; Redis replies are not aligned). */
export function decodeFloat32(bytes: Uint8Array, expectedLength?: number): Float32Array {
  if (bytes.byteLength % 4 !== 0) {
    throw new RangeError(`a float32 blob must have a multiple of 4 bytes, got ${bytes.byteLength}`);
  }
  const n = bytes.byteLength / 4;
  if (expectedLength !== undefined && n !== expectedLength) {
    throw new RangeError(`expected ${expectedLength} float32 values, got ${n}`);
  }
  return decodeFloat32Into(bytes, new Float32Array(n));
}

/** Little-endian bytes -> `out`, which must hold exactly their values; returns `out`. */
export function decodeFloat32Into(bytes: Uint8Array, out: Float32Array): Float32Array {
  if (bytes.byteLength !== out.length * 4) {
    throw new RangeError(
      `expected ${out.length} float32 values (${out.length * 4} bytes), got ${bytes.byteLength} bytes`,
    );
  }
  if (LITTLE) {
    new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes);
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

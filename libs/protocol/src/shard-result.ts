import { decodeFloat32, encodeFloat32 } from './tensor-codec';

/**
 * A shard's result as one Redis value: the summed gradient (little-endian float32, flat layout)
 * followed by a 16-byte trailer: loss sum (float64 LE), correct count (uint32 LE), rows (uint32 LE).
 * One value, so it is written once with SET NX and read with one GET.
 */
export interface ShardResult {
  grad: Float32Array;
  loss: number;
  correct: number;
  rows: number;
}

const TRAILER = 16;

export function encodeShardResult(r: ShardResult): Buffer {
  const out = Buffer.allocUnsafe(r.grad.byteLength + TRAILER);
  encodeFloat32(r.grad).copy(out, 0);
  out.writeDoubleLE(r.loss, r.grad.byteLength);
  out.writeUInt32LE(r.correct, r.grad.byteLength + 8);
  out.writeUInt32LE(r.rows, r.grad.byteLength + 12);
  return out;
}

/** Decode and check the size against the parameter count; `into` receives the gradient when given. */
export function decodeShardResult(bytes: Buffer, paramCount: number): ShardResult {
  if (bytes.byteLength !== paramCount * 4 + TRAILER) {
    throw new RangeError(`shard result has ${bytes.byteLength} bytes, expected ${paramCount * 4 + TRAILER}`);
  }
  const grad = decodeFloat32(bytes.subarray(0, paramCount * 4), paramCount);
  return {
    grad,
    loss: bytes.readDoubleLE(paramCount * 4),
    correct: bytes.readUInt32LE(paramCount * 4 + 8),
    rows: bytes.readUInt32LE(paramCount * 4 + 12),
  };
}

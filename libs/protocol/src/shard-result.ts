import { decodeHalf, encodeHalf, type GradientPrecision } from './half';
import { encodeFloat32, viewFloat32 } from './tensor-codec';

/**
 * A shard's result as one Redis value: the summed gradient (little-endian float32, flat layout)
 * followed by a 40-byte trailer: loss sum (float64 LE), correct count (uint32 LE), rows (uint32 LE)
 * and the engine that computed it (ENGINE_TAG_BYTES of ASCII, NUL-padded: its name and version,
 * `onnxruntime 1.30.0`; a run refuses shards of another engine, docs/faults.md). One value, so it
 * is written once with SET NX and read with one GET.
 */
export interface ShardResult extends StepTotals {
  grad: Float32Array;
  /** The engine and its version (ENGINE_TAG); "unnamed" when an encoder gives none. */
  engine?: string;
}

/** Bytes of the engine tag at the end of the trailer. */
export const ENGINE_TAG_BYTES = 24;

/** What an engine tag may hold: 1-24 printable ASCII characters. */
export const ENGINE_TAG = /^[\x20-\x7e]{1,24}$/;

/** Loss sum, correct count and rows: a shard's trailer, or a step's, totalled in shard order. */
export interface StepTotals {
  loss: number;
  correct: number;
  rows: number;
}

/** Bytes of the trailer after the gradient values. */
export const TRAILER_BYTES = 16 + ENGINE_TAG_BYTES;

/** The trailer that starts at byte `at` of `b`. */
export function readTrailer(b: Buffer, at: number): StepTotals & { engine: string } {
  const tag = b.subarray(at + 16, at + TRAILER_BYTES);
  const end = tag.indexOf(0);
  return {
    loss: b.readDoubleLE(at),
    correct: b.readUInt32LE(at + 8),
    rows: b.readUInt32LE(at + 12),
    engine: tag.toString('latin1', 0, end < 0 ? ENGINE_TAG_BYTES : end),
  };
}

/** Bytes of `r` encoded at `precision`. */
export function shardResultBytes(r: { grad: Float32Array }, precision: GradientPrecision = 'float32'): number {
  return r.grad.length * (precision === 'float32' ? 4 : 2) + TRAILER_BYTES;
}

/**
 * Encode a shard's result; into `into` when it has exactly the bytes needed (a reused buffer
 * spares the worker a megabyte of external memory per shard, and V8 the full collections it
 * triggers), else into a new buffer.
 */
export function encodeShardResult(r: ShardResult, precision: GradientPrecision = 'float32', into?: Buffer): Buffer {
  const bytes = shardResultBytes(r, precision);
  const out = into?.byteLength === bytes ? into : Buffer.allocUnsafe(bytes);
  if (precision !== 'float32') {
    // half precision: 2 bytes a value, the same trailer
    encodeHalf(r.grad, precision, out);
  } else {
    encodeFloat32(r.grad).copy(out, 0);
  }
  writeTrailer(out, r, bytes - TRAILER_BYTES);
  return out;
}

function writeTrailer(out: Buffer, r: ShardResult, at: number): void {
  const engine = r.engine ?? 'unnamed';
  if (!ENGINE_TAG.test(engine))
    throw new RangeError(`engine tag ${JSON.stringify(engine)} is not 1-24 ASCII characters`);
  out.writeDoubleLE(r.loss, at);
  out.writeUInt32LE(r.correct, at + 8);
  out.writeUInt32LE(r.rows, at + 12);
  out.fill(0, at + 16, at + TRAILER_BYTES);
  out.write(engine, at + 16, 'latin1');
}

/**
 * Decode and check the size against the parameter count. `grad` may be a view of `bytes`: keep
 * `bytes` unmodified while using it.
 */
export function decodeShardResult(
  bytes: Buffer,
  paramCount: number,
  precision: GradientPrecision = 'float32',
): ShardResult {
  if (precision !== 'float32') {
    const at = paramCount * 2;
    if (bytes.byteLength !== at + TRAILER_BYTES)
      throw new RangeError(`shard result has ${bytes.byteLength} bytes, expected ${at + TRAILER_BYTES} (${precision})`);
    return { grad: decodeHalf(bytes.subarray(0, at), precision), ...readTrailer(bytes, at) };
  }
  if (bytes.byteLength !== paramCount * 4 + TRAILER_BYTES) {
    throw new RangeError(`shard result has ${bytes.byteLength} bytes, expected ${paramCount * 4 + TRAILER_BYTES}`);
  }
  return { grad: viewFloat32(bytes.subarray(0, paramCount * 4), paramCount), ...readTrailer(bytes, paramCount * 4) };
}

import { describe, expect, it } from 'vitest';
import { decodeShardResult, encodeShardResult, shardResultBytes, TRAILER_BYTES } from './shard-result';

const result = { grad: new Float32Array([1.5, -0, 3.25, -7]), loss: 0.8125, correct: 3, rows: 5 };

describe('shard result codec', () => {
  it('round-trips the gradient bit for bit and the trailer', () => {
    const back = decodeShardResult(encodeShardResult(result), 4);
    expect(Buffer.from(back.grad.buffer, back.grad.byteOffset, 16)).toEqual(Buffer.from(result.grad.buffer));
    expect({ loss: back.loss, correct: back.correct, rows: back.rows }).toEqual({ loss: 0.8125, correct: 3, rows: 5 });
  });

  it('names the engine in the last 24 bytes of the trailer, and refuses a tag that does not fit', () => {
    const tagged = encodeShardResult({ ...result, engine: 'onnxruntime 1.30.0' });
    expect(TRAILER_BYTES).toBe(40);
    expect(tagged.subarray(tagged.byteLength - 24).toString('latin1')).toBe('onnxruntime 1.30.0\0\0\0\0\0\0');
    expect(decodeShardResult(tagged, 4).engine).toBe('onnxruntime 1.30.0');
    expect(decodeShardResult(encodeShardResult(result), 4).engine).toBe('unnamed');
    expect(decodeShardResult(encodeShardResult({ ...result, engine: 'x'.repeat(24) }), 4).engine).toBe('x'.repeat(24));
    expect(() => encodeShardResult({ ...result, engine: 'x'.repeat(25) })).toThrow(
      /engine tag "x{25}" is not 1-24 ASCII/,
    );
    expect(() => encodeShardResult({ ...result, engine: 'onnx\u00e9' })).toThrow(/is not 1-24 ASCII characters/);
  });

  it('encodes into a reused buffer of the right size, byte for byte as into a new one', () => {
    for (const precision of ['float32', 'bfloat16'] as const) {
      const fresh = encodeShardResult(result, precision);
      const reused = Buffer.alloc(shardResultBytes(result, precision), 0xab);
      const out = encodeShardResult(result, precision, reused);
      expect(out).toBe(reused);
      expect(out).toEqual(fresh);
    }
    expect(shardResultBytes(result)).toBe(16 + TRAILER_BYTES);
    expect(shardResultBytes(result, 'float16')).toBe(8 + TRAILER_BYTES);
  });

  it('leaves a buffer of another size alone and encodes into a new one', () => {
    const other = Buffer.alloc(7, 0xab);
    const out = encodeShardResult(result, 'float32', other);
    expect(out).not.toBe(other);
    expect(other).toEqual(Buffer.alloc(7, 0xab));
    expect(out).toEqual(encodeShardResult(result));
  });
});

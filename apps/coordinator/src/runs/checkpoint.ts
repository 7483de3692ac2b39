import { createHash } from 'node:crypto';

/**
 * A checkpoint's bytes: [u32 LE header length][header JSON][params][optimizer state]. The header
 * holds the step, the byte lengths and a sha256 of the body, so a torn or corrupted copy is
 * refused wherever it was stored (Redis or a file: run-blobs.ts).
 */
export interface Checkpoint {
  runId: string;
  /** Steps completed: params are version `step`. */
  step: number;
  params: Float32Array;
  optimizer: Uint8Array;
  skippedSteps: number;
}

export function encodeCheckpoint(c: Checkpoint): Buffer {
  const params = Buffer.from(c.params.buffer, c.params.byteOffset, c.params.byteLength);
  const opt = Buffer.from(c.optimizer.buffer, c.optimizer.byteOffset, c.optimizer.byteLength);
  const sha256 = createHash('sha256').update(params).update(opt).digest('hex');
  const header = Buffer.from(
    JSON.stringify({
      format: 'nnq-checkpoint-1',
      runId: c.runId,
      step: c.step,
      skippedSteps: c.skippedSteps,
      paramBytes: params.length,
      optimizerBytes: opt.length,
      sha256,
    }),
  );
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length);
  return Buffer.concat([len, header, params, opt]);
}

/** The checkpoint in `b`; throws naming `where` for a damaged one (truncated, wrong format, checksum). */
export function decodeCheckpoint(b: Buffer, where: string): Checkpoint {
  if (b.length < 4) throw new Error(`${where}: checkpoint is truncated`);
  const hl = b.readUInt32LE(0);
  if (4 + hl > b.length) throw new Error(`${where}: checkpoint header is truncated`);
  let h: {
    format: string;
    runId: string;
    step: number;
    skippedSteps: number;
    paramBytes: number;
    optimizerBytes: number;
    sha256: string;
  };
  try {
    h = JSON.parse(b.subarray(4, 4 + hl).toString('utf8')) as typeof h;
  } catch {
    throw new Error(`${where}: checkpoint header is not JSON`);
  }
  if (h.format !== 'nnq-checkpoint-1') throw new Error(`${where}: not an nnq checkpoint (format ${h.format})`);
  const body = b.subarray(4 + hl);
  if (body.length !== h.paramBytes + h.optimizerBytes) throw new Error(`${where}: checkpoint body is truncated`);
  if (createHash('sha256').update(body).digest('hex') !== h.sha256)
    throw new Error(`${where}: checkpoint checksum mismatch`);
  const params = new Float32Array(h.paramBytes / 4);
  new Uint8Array(params.buffer).set(body.subarray(0, h.paramBytes));
  return {
    runId: h.runId,
    step: h.step,
    skippedSteps: h.skippedSteps,
    params,
    optimizer: new Uint8Array(body.subarray(h.paramBytes)),
  };
}

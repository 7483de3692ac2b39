import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from './run-files';

/**
 * A checkpoint file: [u32 LE header length][header JSON][params][optimizer state]. The header
 * holds the step, the byte lengths and a sha256 of the body, so a torn or corrupted file is
 * refused; files are written to a temp name and renamed, so a reader never sees half of one.
 */
export interface Checkpoint {
  runId: string;
  /** Steps completed: params are version `step`. */
  step: number;
  params: Float32Array;
  optimizer: Uint8Array;
  skippedSteps: number;
}

export function writeCheckpoint(path: string, c: Checkpoint): void {
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
  writeFileAtomic(path, Buffer.concat([len, header, params, opt]));
}

/** The checkpoint at `path`, or null when there is none; throws on a damaged file. */
export function readCheckpoint(path: string): Checkpoint | null {
  if (!existsSync(path)) return null;
  const b = readFileSync(path);
  if (b.length < 4) throw new Error(`${path}: checkpoint is truncated`);
  const hl = b.readUInt32LE(0);
  if (4 + hl > b.length) throw new Error(`${path}: checkpoint header is truncated`);
  const h = JSON.parse(b.subarray(4, 4 + hl).toString('utf8')) as {
    format: string;
    runId: string;
    step: number;
    skippedSteps: number;
    paramBytes: number;
    optimizerBytes: number;
    sha256: string;
  };
  if (h.format !== 'nnq-checkpoint-1') throw new Error(`${path}: not an nnq checkpoint (format ${h.format})`);
  const body = b.subarray(4 + hl);
  if (body.length !== h.paramBytes + h.optimizerBytes) throw new Error(`${path}: checkpoint body is truncated`);
  if (createHash('sha256').update(body).digest('hex') !== h.sha256)
    throw new Error(`${path}: checkpoint checksum mismatch`);
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

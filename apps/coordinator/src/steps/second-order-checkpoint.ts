import { deserializeSecondOrderState, FormatError, serializeSecondOrderState, type SecondOrderState } from '@nnq/nn';

/**
 * What a second-order run's checkpoint holds in its optimizer part: the optimizer's state
 * (libs/nn state-file.ts: L-BFGS pairs, loss and gradient; Hessian-free damping, warm start and
 * rejections) and the float64 parameters the optimizer steps (the checkpoint's own parameters are
 * their float32 copy), so a resumed run continues bitwise as if it had never stopped.
 */
export interface SecondOrderCheckpoint {
  state: SecondOrderState;
  params: Float64Array;
}

const FORMAT = 'nnq-second-order-checkpoint-1';

export function encodeSecondOrderCheckpoint(c: SecondOrderCheckpoint): Uint8Array {
  const params = Buffer.alloc(c.params.length * 8);
  c.params.forEach((v, i) => params.writeDoubleLE(v, i * 8));
  const state = Buffer.from(serializeSecondOrderState(c.state)).toString('base64');
  return new TextEncoder().encode(JSON.stringify({ format: FORMAT, params: params.toString('base64'), state }));
}

/** Throws FormatError naming what is wrong. */
export function decodeSecondOrderCheckpoint(bytes: Uint8Array, paramCount: number): SecondOrderCheckpoint {
  let body: { format?: unknown; params?: unknown; state?: unknown };
  try {
    body = JSON.parse(new TextDecoder().decode(bytes)) as typeof body;
  } catch (e) {
    throw new FormatError(`not a second-order checkpoint: ${(e as Error).message}`);
  }
  if (body?.format !== FORMAT) throw new FormatError(`not a second-order checkpoint (format ${String(body?.format)})`);
  if (typeof body.params !== 'string' || typeof body.state !== 'string')
    throw new FormatError('second-order checkpoint: params and state must be base64 strings');
  const p = Buffer.from(body.params, 'base64');
  if (p.length !== paramCount * 8)
    throw new FormatError(`second-order checkpoint: ${p.length} bytes of parameters, expected ${paramCount * 8}`);
  const params = Float64Array.from({ length: paramCount }, (_, i) => p.readDoubleLE(i * 8));
  return { params, state: deserializeSecondOrderState(Buffer.from(body.state, 'base64')) };
}

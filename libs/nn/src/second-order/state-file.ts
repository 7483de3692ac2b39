import { FormatError } from '../safetensors';
import type { HessianFreeState } from './hessian-free';
import type { LbfgsState } from './lbfgs';

/**
 * A second-order optimizer's state on disk (checkpoints): UTF-8 JSON whose float64 vectors are
 * base64 of their little-endian bytes, so a resumed run continues bitwise exactly.
 */

export type SecondOrderState = LbfgsState | HessianFreeState;

const FORMAT = 'nnq-second-order-state';

function encodeVec(v: Float64Array): string {
  const bytes = new Uint8Array(v.length * 8);
  const view = new DataView(bytes.buffer);
  v.forEach((x, i) => view.setFloat64(i * 8, x, true));
  return Buffer.from(bytes).toString('base64');
}

function decodeVec(s: unknown, what: string): Float64Array {
  if (typeof s !== 'string') throw new FormatError(`${what}: expected a base64 string`);
  const bytes = Buffer.from(s, 'base64');
  if (bytes.length % 8 !== 0) throw new FormatError(`${what}: ${bytes.length} bytes is not a whole number of float64`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Float64Array.from({ length: bytes.length / 8 }, (_, i) => view.getFloat64(i * 8, true));
}

function num(v: unknown, what: string): number {
  // JSON has no NaN: it is written as null (L-BFGS before its first step)
  if (v === null) return NaN;
  if (typeof v !== 'number') throw new FormatError(`${what}: expected a number`);
  return v;
}

export function serializeSecondOrderState(state: SecondOrderState): Uint8Array {
  const body =
    state.type === 'lbfgs'
      ? {
          format: FORMAT,
          type: state.type,
          step: state.step,
          loss: Number.isFinite(state.loss) ? state.loss : null,
          grad: encodeVec(state.grad),
          s: state.s.map(encodeVec),
          y: state.y.map(encodeVec),
        }
      : {
          format: FORMAT,
          type: state.type,
          step: state.step,
          damping: state.damping,
          rejected: state.rejected,
          direction: encodeVec(state.direction),
        };
  return new TextEncoder().encode(JSON.stringify(body));
}

export function deserializeSecondOrderState(bytes: Uint8Array): SecondOrderState {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  } catch (e) {
    throw new FormatError(`not a second-order optimizer state: ${(e as Error).message}`);
  }
  if (body?.format !== FORMAT)
    throw new FormatError(`not a second-order optimizer state (format ${String(body?.format)})`);
  const step = num(body.step, 'step');
  if (body.type === 'lbfgs') {
    const list = (k: 's' | 'y') => {
      if (!Array.isArray(body[k])) throw new FormatError(`${k}: expected a list of vectors`);
      return (body[k] as unknown[]).map((v, i) => decodeVec(v, `${k}[${i}]`));
    };
    return {
      type: 'lbfgs',
      step,
      loss: num(body.loss, 'loss'),
      grad: decodeVec(body.grad, 'grad'),
      s: list('s'),
      y: list('y'),
    };
  }
  if (body.type === 'hessian_free') {
    return {
      type: 'hessian_free',
      step,
      damping: num(body.damping, 'damping'),
      rejected: num(body.rejected, 'rejected'),
      direction: decodeVec(body.direction, 'direction'),
    };
  }
  throw new FormatError(`unknown second-order optimizer type ${JSON.stringify(body.type)}`);
}

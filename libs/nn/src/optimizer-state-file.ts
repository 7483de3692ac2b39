import { OPTIMIZER_SLOTS, type OptimizerConfig, type OptimizerState, type OptimizerType } from './optimizers';
import { decodeSafetensors, encodeSafetensors, FormatError } from './safetensors';

// An optimizer's state on disk: a safetensors file, so a run resumes bitwise exactly.

const STATE_FORMAT = 'nnq-optimizer-state';

/** Bytes (safetensors: metadata type and step, one F32 tensor per slot) of an optimizer state. */
export function serializeOptimizerState(state: OptimizerState): Uint8Array {
  return encodeSafetensors(
    { format: STATE_FORMAT, version: '1', type: state.type, step: String(state.step) },
    OPTIMIZER_SLOTS[state.type].map((name) => ({ name, shape: [state.slots[name].length], data: state.slots[name] })),
  );
}

/** Read bytes of serializeOptimizerState; checks them against the config and parameter count when given. */
export function deserializeOptimizerState(
  bytes: Uint8Array,
  expect?: { config?: OptimizerConfig; size?: number },
): OptimizerState {
  const { metadata, tensors } = decodeSafetensors(bytes);
  if (metadata.format !== STATE_FORMAT) throw new FormatError(`not an optimizer state (format ${metadata.format})`);
  const type = metadata.type as OptimizerType;
  if (!(type in OPTIMIZER_SLOTS)) throw new FormatError(`unknown optimizer type ${JSON.stringify(metadata.type)}`);
  if (expect?.config && expect.config.type !== type) {
    throw new FormatError(`optimizer state is ${type}, the config asks for ${expect.config.type}`);
  }
  const stepCount = Number(metadata.step);
  if (!Number.isSafeInteger(stepCount) || stepCount < 0) throw new FormatError(`bad step count ${metadata.step}`);
  const slots: Record<string, Float32Array> = {};
  const names = OPTIMIZER_SLOTS[type];
  if (tensors.length !== names.length || !tensors.every((t) => names.includes(t.name))) {
    throw new FormatError(
      `${type} state needs slots [${names.join(', ')}], got [${tensors.map((t) => t.name).join(', ')}]`,
    );
  }
  for (const t of tensors) {
    if (expect?.size !== undefined && t.data.length !== expect.size) {
      throw new FormatError(`slot ${t.name} has ${t.data.length} values, the parameters ${expect.size}`);
    }
    slots[t.name] = t.data;
  }
  return { type, step: stepCount, slots };
}

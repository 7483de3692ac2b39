/**
 * The safetensors container (huggingface/safetensors), F32 tensors only:
 *   8 bytes  N, little-endian u64: length of the header
 *   N bytes  JSON header: { "__metadata__": { string: string }, "<name>": { "dtype": "F32",
 *            "shape": [...], "data_offsets": [begin, end] }, ... }, padded with spaces to 8 bytes
 *   rest     the tensors' bytes, little-endian, offsets relative to the end of the header
 * Used for model files (model-file.ts) and optimizer state (optimizers.ts).
 */

export interface NamedTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface SafetensorsContents {
  metadata: Record<string, string>;
  /** In the order of their data offsets. */
  tensors: NamedTensor[];
}

/** Corrupt or unexpected bytes. */
export class FormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FormatError';
  }
}

/** Largest header we accept (the reference implementation's limit). */
const MAX_HEADER = 100_000_000;

export function encodeSafetensors(metadata: Record<string, string>, tensors: readonly NamedTensor[]): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new RangeError(
        `tensor ${t.name}: shape [${t.shape.join(', ')}] needs ${count} values, got ${t.data.length}`,
      );
    }
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * count] };
    offset += 4 * count;
  }
  let json = JSON.stringify(header);
  const raw = new TextEncoder().encode(json);
  json += ' '.repeat((8 - (raw.length % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let p = 8 + headerBytes.length;
  for (const t of tensors) {
    for (let i = 0; i < t.data.length; i++, p += 4) view.setFloat32(p, t.data[i], true);
  }
  return out;
}

export function decodeSafetensors(bytes: Uint8Array): SafetensorsContents {
  if (bytes.length < 8) throw new FormatError(`file too short: ${bytes.length} bytes, a header length needs 8`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(Math.min(MAX_HEADER, bytes.length - 8))) {
    throw new FormatError(
      `header length ${n} exceeds the ${bytes.length - 8} bytes after it (truncated or not safetensors)`,
    );
  }
  const headerLength = Number(n);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (e) {
    throw new FormatError(`header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new FormatError('header must be a JSON object');
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const tensors: (NamedTensor & { begin: number })[] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
        throw new FormatError('__metadata__ must be an object of strings');
      }
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') throw new FormatError(`__metadata__.${k} must be a string`);
        metadata[k] = v;
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) throw new FormatError(`tensor ${name}: entry must be an object`);
    if (e.dtype !== 'F32')
      throw new FormatError(`tensor ${name}: dtype ${JSON.stringify(e.dtype)}, only F32 is supported`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new FormatError(`tensor ${name}: shape must be an array of non-negative integers`);
    }
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new FormatError(`tensor ${name}: data_offsets must be [begin, end]`);
    }
    const [begin, end] = offsets as [number, number];
    const shape = e.shape as number[];
    const count = shape.reduce((a, b) => a * b, 1);
    if (end - begin !== 4 * count) {
      throw new FormatError(
        `tensor ${name}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes, ` +
          `shape [${shape.join(', ')}] needs ${4 * count}`,
      );
    }
    if (end > dataLength) {
      throw new FormatError(`tensor ${name}: data ends at byte ${end} but the file holds ${dataLength} (truncated)`);
    }
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = view.getFloat32(dataStart + begin + 4 * i, true);
    tensors.push({ name, shape: e.shape as number[], data, begin });
  }
  // the tensors must tile the data section exactly: no gaps, no overlaps, nothing after
  tensors.sort((a, b) => a.begin - b.begin);
  let expected = 0;
  for (const t of tensors) {
    if (t.begin !== expected)
      throw new FormatError(`tensor ${t.name}: starts at byte ${t.begin}, expected ${expected}`);
    expected += 4 * t.data.length;
  }
  if (expected !== dataLength) {
    throw new FormatError(`data section has ${dataLength} bytes, the tensors cover ${expected}`);
  }
  return { metadata, tensors: tensors.map(({ name, shape, data }) => ({ name, shape, data })) };
}

import { flatMask, paramLayout, type ParamLayout } from './layout';
import { decodeSafetensors, encodeSafetensors, FormatError, type NamedTensor } from './safetensors';
import { parseSpec, SpecError, type NetworkSpec, type NetworkSpecInput } from './spec';

/**
 * The model file: a safetensors file (safetensors.ts) that any safetensors reader can open.
 *   __metadata__: format "nnq-model", version "1", spec (network spec JSON),
 *                 preprocessing (JSON, opaque here: libs/data defines it), plus caller's extra strings
 *   layers.<n>.kernel  F32 [fanIn, units]   (n = 1..L, the lecture's numbering)
 *   layers.<n>.bias    F32 [units]          (layers with useBias)
 * In our files the tensors sit in flat-layout order, so the data section is the flat parameter
 * vector in little-endian; a reader takes tensors by name, in whatever order another writer used.
 */

const FORMAT = 'nnq-model';
const RESERVED = new Set(['format', 'version', 'spec', 'preprocessing']);

export interface ModelContents {
  spec: NetworkSpec;
  /** Flat parameters (layout.ts). */
  params: Float32Array;
  /** Opaque preprocessing description, null when absent. */
  preprocessing: unknown;
  /** Further metadata strings. */
  extra: Record<string, string>;
}

export interface WriteModelInput {
  spec: NetworkSpec | NetworkSpecInput;
  params: Float32Array;
  preprocessing?: unknown;
  extra?: Record<string, string>;
}

function tensorNames(layout: ParamLayout, n: number) {
  return { kernel: `layers.${n}.kernel`, bias: `layers.${n}.bias` };
}

/** Check params against the spec: size, finite values, masked entries 0. */
function checkParams(spec: NetworkSpec, layout: ParamLayout, params: Float32Array, where: string): void {
  if (params.length !== layout.size) {
    throw new FormatError(`${where}: ${params.length} parameters, the spec needs ${layout.size}`);
  }
  const mask = flatMask(spec, layout);
  for (const l of layout.layers) {
    const names = tensorNames(layout, l.index);
    for (let i = l.kernelOffset; i < l.kernelOffset + l.kernelSize; i++) {
      const at = `${names.kernel}[${Math.floor((i - l.kernelOffset) / l.units)}][${(i - l.kernelOffset) % l.units}]`;
      if (!Number.isFinite(params[i])) throw new FormatError(`${where}: ${at} is ${params[i]}`);
      if (mask && mask[i] === 0 && params[i] !== 0) {
        throw new FormatError(`${where}: ${at} is ${params[i]} but the mask removes that connection`);
      }
    }
    for (let k = 0; k < l.biasSize; k++) {
      const v = params[l.biasOffset + k];
      if (!Number.isFinite(v)) throw new FormatError(`${where}: ${names.bias}[${k}] is ${v}`);
    }
  }
}

/** Bytes of a model file. */
export function writeModel({ spec: specIn, params, preprocessing, extra = {} }: WriteModelInput): Uint8Array {
  const spec = parseSpec(specIn);
  const layout = paramLayout(spec);
  checkParams(spec, layout, params, 'writeModel');
  const metadata: Record<string, string> = { format: FORMAT, version: '1', spec: JSON.stringify(spec) };
  if (preprocessing !== undefined) metadata.preprocessing = JSON.stringify(preprocessing);
  for (const [k, v] of Object.entries(extra)) {
    if (RESERVED.has(k)) throw new RangeError(`extra.${k}: reserved metadata key`);
    if (typeof v !== 'string') throw new RangeError(`extra.${k}: metadata values must be strings`);
    metadata[k] = v;
  }
  const tensors: NamedTensor[] = [];
  for (const l of layout.layers) {
    const names = tensorNames(layout, l.index);
    tensors.push({
      name: names.kernel,
      shape: [l.fanIn, l.units],
      data: params.subarray(l.kernelOffset, l.kernelOffset + l.kernelSize),
    });
    if (l.biasOffset >= 0) {
      tensors.push({
        name: names.bias,
        shape: [l.units],
        data: params.subarray(l.biasOffset, l.biasOffset + l.biasSize),
      });
    }
  }
  return encodeSafetensors(metadata, tensors);
}

/** Parse and validate a model file; throws FormatError (or SpecError for a bad embedded spec). */
export function readModel(bytes: Uint8Array): ModelContents {
  const { metadata, tensors } = decodeSafetensors(bytes);
  if (metadata.format !== FORMAT) {
    throw new FormatError(`__metadata__.format is ${JSON.stringify(metadata.format)}, expected "${FORMAT}"`);
  }
  if (metadata.version !== '1') throw new FormatError(`__metadata__.version ${metadata.version} is not supported`);
  if (metadata.spec === undefined) throw new FormatError('__metadata__.spec is missing');
  let spec: NetworkSpec;
  try {
    spec = parseSpec(JSON.parse(metadata.spec));
  } catch (e) {
    if (e instanceof SpecError) throw new SpecError(e.problems.map((p) => `__metadata__.spec: ${p}`));
    throw new FormatError(`__metadata__.spec is not JSON: ${(e as Error).message}`);
  }
  let preprocessing: unknown = null;
  if (metadata.preprocessing !== undefined) {
    try {
      preprocessing = JSON.parse(metadata.preprocessing);
    } catch (e) {
      throw new FormatError(`__metadata__.preprocessing is not JSON: ${(e as Error).message}`);
    }
  }
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata)) if (!RESERVED.has(k)) extra[k] = v;

  const layout = paramLayout(spec);
  const params = new Float32Array(layout.size);
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const expected = new Set<string>();
  const take = (name: string, shape: number[], offset: number) => {
    expected.add(name);
    const t = byName.get(name);
    if (!t) throw new FormatError(`tensor ${name} is missing`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new FormatError(`tensor ${name} has shape [${t.shape.join(', ')}], the spec needs [${shape.join(', ')}]`);
    }
    params.set(t.data, offset);
  };
  for (const l of layout.layers) {
    const names = tensorNames(layout, l.index);
    take(names.kernel, [l.fanIn, l.units], l.kernelOffset);
    if (l.biasOffset >= 0) take(names.bias, [l.units], l.biasOffset);
  }
  const unexpected = tensors.filter((t) => !expected.has(t.name)).map((t) => t.name);
  if (unexpected.length) throw new FormatError(`unexpected tensors: ${unexpected.join(', ')}`);
  checkParams(spec, layout, params, 'readModel');
  return { spec, params, preprocessing, extra };
}

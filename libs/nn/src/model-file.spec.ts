import { describe, expect, it } from 'vitest';
import { initParams } from './init';
import { paramLayout } from './layout';
import { readModel, writeModel } from './model-file';
import { createRng } from './rng';
import { decodeSafetensors, encodeSafetensors } from './safetensors';
import { parseSpec } from './spec';

const spec = parseSpec({
  inputSize: 3,
  layers: [
    {
      units: 4,
      activation: 'relu',
      mask: [
        [1, 0, 1, 1],
        [1, 1, 0, 1],
        [0, 1, 1, 1],
      ],
    },
    { units: 4, activation: 'tanh', useBias: false },
    { units: 2, activation: 'softmax' },
  ],
  skips: [{ from: 1, to: 3, mode: 'concat' }],
  loss: 'softmax_cross_entropy',
});
const params = initParams(spec, createRng(5));
const preprocessing = { normalize: { mean: [0.5, 1, 2], std: [1, 2, 3] } };

/** Rewrite the JSON header of a file (keeping the data), for corruption tests. */
function withHeader(bytes: Uint8Array, edit: (h: Record<string, unknown>) => void): Uint8Array {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  edit(header);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + bytes.length - 8 - n);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(bytes.subarray(8 + n), 8 + json.length);
  return out;
}

describe('model file (safetensors)', () => {
  const bytes = writeModel({ spec, params, preprocessing, extra: { run: 'r1', step: '100' } });

  it('round-trips spec, parameters bitwise, preprocessing and extra metadata', () => {
    const m = readModel(bytes);
    expect(m.spec).toEqual(spec);
    expect(Buffer.from(m.params.buffer).equals(Buffer.from(params.buffer))).toBe(true);
    expect(m.preprocessing).toEqual(preprocessing);
    expect(m.extra).toEqual({ run: 'r1', step: '100' });
    expect(readModel(writeModel({ spec, params })).preprocessing).toBeNull();
  });

  it('is safetensors: u64 header length, 8-aligned JSON header, F32 kernels [fanIn, units], data = flat layout', () => {
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(header['layers.1.kernel']).toEqual({ dtype: 'F32', shape: [3, 4], data_offsets: [0, 48] });
    expect(header['layers.3.kernel'].shape).toEqual([8, 2]); // concat skip: 4 + 4 inputs
    expect(header['layers.2.bias']).toBeUndefined();
    expect(JSON.parse(header.__metadata__.spec)).toEqual(spec);
    const data = bytes.slice(8 + n);
    expect(data.length).toBe(4 * paramLayout(spec).size);
    expect(Buffer.from(new Float32Array(data.buffer).buffer).equals(Buffer.from(params.buffer))).toBe(true);
  });

  it('reads tensors in any order (as another writer may sort them)', () => {
    const { metadata, tensors } = decodeSafetensors(bytes);
    const shuffled = [...tensors].sort((a, b) => (a.name < b.name ? 1 : -1));
    const m = readModel(encodeSafetensors(metadata, shuffled));
    expect(Array.from(m.params)).toEqual(Array.from(params));
  });

  it.each<[string, () => Uint8Array, RegExp]>([
    ['an empty file', () => new Uint8Array(0), /file too short: 0 bytes/],
    ['a header length past the end', () => bytes.subarray(0, 20), /header length \d+ exceeds the 12 bytes after it/],
    [
      'a truncated data section',
      () => bytes.subarray(0, bytes.length - 4),
      /tensor layers\.3\.bias: data ends at byte \d+ but the file holds \d+ \(truncated\)/,
    ],
    [
      'trailing bytes',
      () => new Uint8Array([...bytes, 0, 0, 0, 0]),
      /data section has \d+ bytes, the tensors cover \d+/,
    ],
    [
      'a header that is not JSON',
      () => {
        const b = bytes.slice();
        b[8] = 0x7b + 1;
        return b;
      },
      /header is not valid UTF-8 JSON/,
    ],
    [
      'another format',
      () => withHeader(bytes, (h) => ((h.__metadata__ as Record<string, string>).format = 'x')),
      /__metadata__\.format is "x", expected "nnq-model"/,
    ],
    [
      'no spec',
      () => withHeader(bytes, (h) => delete (h.__metadata__ as Record<string, string>).spec),
      /__metadata__\.spec is missing/,
    ],
    [
      'an invalid spec',
      () => withHeader(bytes, (h) => ((h.__metadata__ as Record<string, string>).spec = '{"inputSize":0}')),
      /__metadata__\.spec: inputSize: must be at least 1/,
    ],
    [
      'a kernel of the wrong shape',
      () => withHeader(bytes, (h) => ((h['layers.1.kernel'] as { shape: number[] }).shape = [4, 3])),
      /tensor layers\.1\.kernel has shape \[4, 3\], the spec needs \[3, 4\]/,
    ],
    [
      'a shape that does not match its bytes',
      () => withHeader(bytes, (h) => ((h['layers.1.kernel'] as { shape: number[] }).shape = [3, 5])),
      /tensor layers\.1\.kernel: data_offsets \[0, 48\] hold 48 bytes, shape \[3, 5\] needs 60/,
    ],
    [
      'a missing tensor',
      () =>
        withHeader(bytes, (h) => {
          h['layers.9.kernel'] = h['layers.1.bias'];
          delete h['layers.1.bias'];
        }),
      /tensor layers\.1\.bias is missing/,
    ],
    [
      'an F16 tensor',
      () => withHeader(bytes, (h) => ((h['layers.1.bias'] as { dtype: string }).dtype = 'F16')),
      /tensor layers\.1\.bias: dtype "F16", only F32 is supported/,
    ],
    [
      'a weight on a removed connection',
      () => {
        const p = params.slice();
        p[1] = 0.5;
        const { metadata, tensors } = decodeSafetensors(bytes);
        tensors[0] = { ...tensors[0], data: p.subarray(0, 12) };
        return encodeSafetensors(metadata, tensors);
      },
      /layers\.1\.kernel\[0\]\[1\] is 0\.5 but the mask removes that connection/,
    ],
    [
      'a NaN',
      () => {
        const { metadata, tensors } = decodeSafetensors(bytes);
        tensors[1].data[0] = NaN;
        return encodeSafetensors(metadata, tensors);
      },
      /readModel: layers\.1\.bias\[0\] is NaN/,
    ],
  ])('refuses %s', (_name, make, message) => {
    expect(() => readModel(make())).toThrow(message);
  });

  it('refuses to write parameters that do not fit the spec', () => {
    expect(() => writeModel({ spec, params: new Float32Array(3) })).toThrow(
      /writeModel: 3 parameters, the spec needs 50/,
    );
    expect(() => writeModel({ spec, params, extra: { spec: 'x' } })).toThrow(/extra\.spec: reserved metadata key/);
  });
});

/**
 * A minimal WebAssembly binary writer: just enough to assemble the update kernels
 * (update-kernel.ts) at load time, so no generated binary is kept in git. Numbers follow the
 * WebAssembly core spec 2.0 (section 5, binary format) and its fixed-width SIMD opcodes.
 */

/** Unsigned LEB128. */
export function u32(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (i32.const immediates). */
export function s32(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
}

/** A vector: its length, then its items. */
const vec = (items: number[][]): number[] => [...u32(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...u32(body.length), ...body];
const name = (s: string): number[] => [...u32(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

export const T = { i32: 0x7f, f32: 0x7d, f64: 0x7c, v128: 0x7b } as const;
export type ValType = (typeof T)[keyof typeof T];

/** Scalar opcodes used by the kernels. */
export const OP = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  f32Load: 0x2a,
  f32Store: 0x38,
  i32Const: 0x41,
  i32LtU: 0x49,
  i32GtU: 0x4b,
  i32Add: 0x6a,
  f32Add: 0x92,
  f32Sub: 0x93,
  f64Sqrt: 0x9f,
  f64Add: 0xa0,
  f64Sub: 0xa1,
  f64Mul: 0xa2,
  f64Div: 0xa3,
  f32DemoteF64: 0xb6,
  f64PromoteF32: 0xbb,
  void: 0x40,
} as const;

/** SIMD opcodes (after the 0xfd prefix). */
export const SIMD = {
  load64Zero: 0x5d,
  store64Lane: 0x5b,
  f64x2Splat: 0x14,
  f32x4ExtractLane: 0x1f,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4DemoteF64x2Zero: 0x5e,
  f64x2PromoteLowF32x4: 0x5f,
  f64x2Sqrt: 0xef,
  f64x2Add: 0xf0,
  f64x2Sub: 0xf1,
  f64x2Mul: 0xf2,
  f64x2Div: 0xf3,
} as const;

export const simd = (op: number): number[] => [0xfd, ...u32(op)];
/** memarg: log2 of the alignment, then the offset. */
export const memarg = (alignLog2: number, offset = 0): number[] => [...u32(alignLog2), ...u32(offset)];

export interface WasmFunction {
  name: string;
  params: ValType[];
  /** Locals after the parameters, in order. */
  locals: ValType[];
  /** Its results (none: a void function). */
  results?: ValType[];
  /** Instructions, without the final `end`. */
  code: number[];
}

/** A module of functions, exported by name, on a memory it imports as env.memory. */
export function assemble(fns: WasmFunction[]): Uint8Array {
  const types = fns.map((f) => [0x60, ...vec(f.params.map((p) => [p])), ...vec((f.results ?? []).map((r) => [r]))]);
  const bodies = fns.map((f) => {
    const locals = vec(f.locals.map((l) => [...u32(1), l]));
    const body = [...locals, ...f.code, OP.end];
    return [...u32(body.length), ...body];
  });
  const exports = fns.map((f, i) => [...name(f.name), 0x00, ...u32(i)]);
  // env.memory: kind 2 (memory), limits without a maximum, at least 0 pages
  const imports = [[...name('env'), ...name('memory'), 0x02, 0x00, ...u32(0)]];
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(types)),
    ...section(2, vec(imports)),
    ...section(3, vec(fns.map((_, i) => u32(i)))),
    ...section(7, vec(exports)),
    ...section(10, vec(bodies)),
  ]);
}

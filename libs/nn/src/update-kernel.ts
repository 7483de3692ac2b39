import type { OptimizerType } from './optimizers';
import { RULES, type Expr, type Stmt } from './update-rules';
import { assemble, memarg, OP, s32, simd, SIMD, T, u32, type ValType, type WasmFunction } from './wasm-asm';

/**
 * The update rules as one WebAssembly module, assembled at load time from update-rules.ts's
 * programs: each rule's function runs two elements at a time in f64x2 (float32 pairs widened
 * with promote, rounded back with demote: the same double operations as the JavaScript loop,
 * and WebAssembly has no fused multiply-add), then the odd last element in scalar f64.
 *
 * Vectors live in the module's own memory: a step copies params, grad and the slots in and the
 * results out (Float32Array.set, a memcpy), at [0, n), [n, 2n), ... float32 elements rounded to
 * 16 bytes. The memory grows to the largest vector seen and stays that size.
 */

/** Parameters of every kernel function: byte addresses of P, G, A, B, the byte range, 9 terms. */
const ADDR = 4;
const FROM = 4;
const TO = 5;
const TERMS = 9;
const TERM0 = 6;
/** Locals: the byte offset o, the splatted terms, then the program's named values. */
const O = TERM0 + TERMS;
const SPLAT0 = O + 1;

/** One kernel function: (pP, pG, pA, pB, from, to: i32 byte offsets; 9 f64 terms). */
function compile(name: string, program: Stmt[]): WasmFunction {
  const names = program.flatMap((s) => ('let' in s ? [s.let] : []));
  const vLocal = (n: string) => SPLAT0 + TERMS + names.indexOf(n);
  const fLocal = (n: string) => SPLAT0 + TERMS + names.length + names.indexOf(n);
  const at = (v: number) => [OP.localGet, ...u32(v), OP.localGet, ...u32(O), OP.i32Add];

  const BIN = { '+': [OP.f64Add, SIMD.f64x2Add], '-': [OP.f64Sub, SIMD.f64x2Sub] } as Record<string, number[]>;
  BIN['*'] = [OP.f64Mul, SIMD.f64x2Mul];
  BIN['/'] = [OP.f64Div, SIMD.f64x2Div];
  // an expression in f64x2 (lanes = 1) or scalar f64 (lanes = 0)
  const expr = (e: Expr, lanes: 0 | 1): number[] => {
    if ('k' in e) return [OP.localGet, ...u32(lanes ? SPLAT0 + e.k : TERM0 + e.k)];
    if ('ref' in e) return [OP.localGet, ...u32(lanes ? vLocal(e.ref) : fLocal(e.ref))];
    if ('load' in e) {
      return lanes
        ? [...at(e.load), ...simd(SIMD.load64Zero), ...memarg(2), ...simd(SIMD.f64x2PromoteLowF32x4)]
        : [...at(e.load), OP.f32Load, ...memarg(2), OP.f64PromoteF32];
    }
    if ('sqrt' in e) return [...expr(e.sqrt, lanes), ...(lanes ? simd(SIMD.f64x2Sqrt) : [OP.f64Sqrt])];
    const [scalar, vector] = BIN[e.op];
    return [...expr(e.a, lanes), ...expr(e.b, lanes), ...(lanes ? simd(vector) : [scalar])];
  };
  const body = (lanes: 0 | 1) =>
    program.flatMap((s) => {
      if ('let' in s) return [...expr(s.e, lanes), OP.localSet, ...u32(lanes ? vLocal(s.let) : fLocal(s.let))];
      return lanes
        ? [
            ...at(s.store),
            ...expr(s.e, 1),
            ...simd(SIMD.f32x4DemoteF64x2Zero),
            ...simd(SIMD.store64Lane),
            ...memarg(2),
            0,
          ]
        : [...at(s.store), ...expr(s.e, 0), OP.f32DemoteF64, OP.f32Store, ...memarg(2)];
    });

  const splats = Array.from({ length: TERMS }, (_, i) => [
    ...[OP.localGet, ...u32(TERM0 + i), ...simd(SIMD.f64x2Splat)],
    ...[OP.localSet, ...u32(SPLAT0 + i)],
  ]).flat();
  const code = [
    ...splats,
    ...[OP.localGet, FROM, OP.localSet, ...u32(O)],
    // pairs: while (o + 8 <= to) { body; o += 8 }
    ...[OP.block, OP.void, OP.loop, OP.void],
    ...[OP.localGet, ...u32(O), OP.i32Const, ...s32(8), OP.i32Add, OP.localGet, TO, OP.i32GtU, OP.brIf, 1],
    ...body(1),
    ...[OP.localGet, ...u32(O), OP.i32Const, ...s32(8), OP.i32Add, OP.localSet, ...u32(O), OP.br, 0],
    ...[OP.end, OP.end],
    // the last element: if (o < to) body
    ...[OP.localGet, ...u32(O), OP.localGet, TO, OP.i32LtU, OP.if, OP.void, ...body(0), OP.end],
  ];
  const params: ValType[] = [...Array<ValType>(ADDR + 2).fill(T.i32), ...Array<ValType>(TERMS).fill(T.f64)];
  const locals: ValType[] = [
    T.i32,
    ...Array<ValType>(TERMS + names.length).fill(T.v128),
    ...Array<ValType>(names.length).fill(T.f64),
  ];
  return { name, params, locals, code };
}

type KernelFn = (...args: number[]) => void;

/** The few members of the WebAssembly JS API used here (TypeScript declares them only in lib.dom). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { readonly exports: Record<string, unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

const TYPES = Object.keys(RULES) as OptimizerType[];

/** The assembled module's bytes (one function per optimizer type, in RULES order). */
export function kernelModuleBytes(): Uint8Array {
  return assemble(TYPES.map((t) => compile(t, RULES[t].program)));
}

/** A kernel instance and its memory; null where WebAssembly SIMD is not available. */
class Kernels {
  private readonly memory: WasmMemory;
  private readonly fns: Record<string, KernelFn>;
  private f32: Float32Array;

  constructor(bytes: Uint8Array) {
    const instance = new wasm!.Instance(new wasm!.Module(bytes));
    this.memory = instance.exports.memory as WasmMemory;
    this.fns = instance.exports as unknown as Record<string, KernelFn>;
    this.f32 = new Float32Array(this.memory.buffer);
  }

  /**
   * One update of params (and slots a, b) in place over the unmasked runs [from, to) that
   * `runs` lists; masked parameters are left to the caller.
   */
  run(
    type: OptimizerType,
    params: Float32Array,
    grad: Float32Array,
    slots: Float32Array[],
    terms: number[],
    runs: ReadonlyArray<readonly [number, number]> | null,
  ): void {
    const n = params.length;
    const stride = (n + 3) & ~3; // elements, a multiple of 16 bytes
    const need = 4 * stride * 4;
    if (this.memory.buffer.byteLength < need) {
      this.memory.grow(Math.ceil((need - this.memory.buffer.byteLength) / 65536));
      this.f32 = new Float32Array(this.memory.buffer);
    }
    const f32 = this.f32;
    const vectors = [params, grad, ...slots];
    vectors.forEach((v, i) => f32.set(v, i * stride));
    const base = [0, 4 * stride, 8 * stride, 12 * stride];
    const fn = this.fns[type];
    const t = terms;
    const call = (from: number, to: number) =>
      fn(base[0], base[1], base[2], base[3], from * 4, to * 4, t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8]);
    if (runs === null) call(0, n);
    else for (const [from, to] of runs) call(from, to);
    params.set(f32.subarray(0, n));
    slots.forEach((s, i) => s.set(f32.subarray((i + 2) * stride, (i + 2) * stride + n)));
  }
}

let kernels: Kernels | null | undefined;

/** The module's kernels, assembled on first use; null when this runtime lacks WebAssembly SIMD. */
export function updateKernels(): Kernels | null {
  if (kernels === undefined) {
    const bytes = kernelModuleBytes();
    kernels = wasm?.validate(bytes) ? new Kernels(bytes) : null;
  }
  return kernels;
}

export type { Kernels };

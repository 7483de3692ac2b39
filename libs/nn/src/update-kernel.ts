import type { OptimizerType } from './optimizers';
import { A, B, G, P, RULES, type Expr, type Stmt } from './update-rules';
import { assemble, memarg, OP, s32, simd, SIMD, T, u32, type ValType, type WasmFunction } from './wasm-asm';

/**
 * The update rules as one WebAssembly module, assembled at load time from update-rules.ts's
 * programs: each rule's function runs two elements at a time in f64x2 (float32 pairs widened
 * with promote, rounded back with demote: the same double operations as the JavaScript loop,
 * and WebAssembly has no fused multiply-add), then the odd last element in scalar f64.
 *
 * Each returns the sum of p - p over the float32 parameters it stored: 0 when every one is
 * finite, NaN otherwise (the check in the same loop, no second pass). Its `_save` twin also
 * stores each slot's value before the update at the slot's save address, so that a non-finite
 * update can be undone without a copy of everything before every step. Kernels puts slot A's
 * save in G's place (read before any slot is stored: compile checks it, so the line is in cache
 * and the grad is not needed after), slot B's in a region of its own.
 *
 * A memory holds params, grad and up to two slots at [0, n), [n, 2n), ... float32 elements,
 * n rounded up to 16 bytes (class Kernels says which memory), then B's save region.
 */

/** Parameters of every kernel function: byte addresses of P, G, A, B, A's and B's save, the byte range, 9 terms. */
const ADDR = 6;
const FROM = ADDR;
const TO = ADDR + 1;
const TERMS = 9;
const TERM0 = ADDR + 2;
/** Locals: the byte offset o, the splatted terms, then the program's named values. */
const O = TERM0 + TERMS;
const SPLAT0 = O + 1;
/** A slot vector's save address is the parameter SAVE_OF slots after its own. */
const SAVE_OF = 2;

/** Each binary operator's scalar f64 and f64x2 opcode. */
const BIN: Record<'+' | '-' | '*' | '/', [number, number]> = {
  '+': [OP.f64Add, SIMD.f64x2Add],
  '-': [OP.f64Sub, SIMD.f64x2Sub],
  '*': [OP.f64Mul, SIMD.f64x2Mul],
  '/': [OP.f64Div, SIMD.f64x2Div],
};

/** Whether e reads vector v. */
function loads(e: Expr, v: number): boolean {
  if ('load' in e) return e.load === v;
  if ('sqrt' in e) return loads(e.sqrt, v);
  if ('op' in e) return loads(e.a, v) || loads(e.b, v);
  return false;
}

/** One kernel function: (pP, pG, pA, pB, pSaveA, pSaveB, from, to: i32 byte offsets; 9 f64 terms) -> f32. */
function compile(name: string, program: Stmt[], save: boolean): WasmFunction {
  const firstStore = program.findIndex((s) => 'store' in s);
  if (program.slice(firstStore).some((s) => loads(s.e, G))) throw new Error(`${name}: grad read after a store`);
  const names = program.flatMap((s) => ('let' in s ? [s.let] : []));
  const vLocal = (n: string) => SPLAT0 + TERMS + names.indexOf(n);
  const fLocal = (n: string) => SPLAT0 + TERMS + names.length + names.indexOf(n);
  // after the named values: the sum of p - p (pairs, last element) and the value just stored
  const [acc, stored] = [SPLAT0 + TERMS + 2 * names.length, SPLAT0 + TERMS + 2 * names.length + 1];
  const [fAcc, fStored] = [acc + 2, acc + 3];
  const at = (v: number) => [OP.localGet, ...u32(v), OP.localGet, ...u32(O), OP.i32Add];

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
  // the slot's float32 values as they are, copied to its save address before the store
  const saved = (v: number, lanes: 0 | 1): number[] => {
    if (!save || (v !== A && v !== B)) return [];
    return lanes
      ? [
          ...at(v + SAVE_OF),
          ...at(v),
          ...simd(SIMD.load64Zero),
          ...memarg(2),
          ...simd(SIMD.store64Lane),
          ...memarg(2),
          0,
        ]
      : [...at(v + SAVE_OF), ...at(v), OP.f32Load, ...memarg(2), OP.f32Store, ...memarg(2)];
  };
  // acc += stored - stored, after a store to P
  const checked = (v: number, lanes: 0 | 1): number[] => {
    if (v !== P) return [];
    const [a, x, sub, add] = lanes
      ? [acc, stored, simd(SIMD.f32x4Sub), simd(SIMD.f32x4Add)]
      : [fAcc, fStored, [OP.f32Sub], [OP.f32Add]];
    const get = (l: number) => [OP.localGet, ...u32(l)];
    return [...get(a), ...get(x), ...get(x), ...sub, ...add, OP.localSet, ...u32(a)];
  };
  const body = (lanes: 0 | 1) =>
    program.flatMap((s) => {
      if ('let' in s) return [...expr(s.e, lanes), OP.localSet, ...u32(lanes ? vLocal(s.let) : fLocal(s.let))];
      const store = lanes
        ? [
            ...at(s.store),
            ...expr(s.e, 1),
            ...simd(SIMD.f32x4DemoteF64x2Zero),
            ...[OP.localTee, ...u32(stored)],
            ...simd(SIMD.store64Lane),
            ...memarg(2),
            0,
          ]
        : [...at(s.store), ...expr(s.e, 0), OP.f32DemoteF64, OP.localTee, ...u32(fStored), OP.f32Store, ...memarg(2)];
      return [...saved(s.store, lanes), ...store, ...checked(s.store, lanes)];
    });

  const splats = Array.from({ length: TERMS }, (_, i) => [
    ...[OP.localGet, ...u32(TERM0 + i), ...simd(SIMD.f64x2Splat)],
    ...[OP.localSet, ...u32(SPLAT0 + i)],
  ]).flat();
  const lane = (i: number) => [OP.localGet, ...u32(acc), ...simd(SIMD.f32x4ExtractLane), i];
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
    // lanes 0 and 1 of acc (2 and 3 stay 0) and the last element's
    ...[...lane(0), ...lane(1), OP.f32Add, OP.localGet, ...u32(fAcc), OP.f32Add],
  ];
  const params: ValType[] = [...Array<ValType>(ADDR + 2).fill(T.i32), ...Array<ValType>(TERMS).fill(T.f64)];
  const locals: ValType[] = [
    T.i32,
    ...Array<ValType>(TERMS + names.length).fill(T.v128),
    ...Array<ValType>(names.length).fill(T.f64),
    ...[T.v128, T.v128, T.f32, T.f32],
  ];
  return { name: save ? `${name}_save` : name, params, locals, results: [T.f32], code };
}

type KernelFn = (...args: number[]) => number;

/** The few members of the WebAssembly JS API used here (TypeScript declares them only in lib.dom). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
  Memory: new (limits: { initial: number; maximum?: number }) => WasmMemory;
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

const TYPES = Object.keys(RULES) as OptimizerType[];
const PAGE = 65536;

/** The assembled module's bytes (two functions per optimizer type, in RULES order: plain and _save). */
export function kernelModuleBytes(): Uint8Array {
  return assemble(TYPES.flatMap((t) => [compile(t, RULES[t].program, false), compile(t, RULES[t].program, true)]));
}

/** Float32 elements per vector for n parameters: n rounded up to 16 bytes. */
const strideOf = (n: number) => (n + 3) & ~3;

/** One instance of the module on its own memory, laid out as P, G, A, B of `stride` elements each. */
class KernelMemory {
  readonly fns: Record<string, KernelFn>;
  f32: Float32Array;

  constructor(
    module: object,
    readonly memory: WasmMemory,
  ) {
    this.fns = new wasm!.Instance(module, { env: { memory } }).exports as Record<string, KernelFn>;
    this.f32 = new Float32Array(memory.buffer);
  }

  /** Room for 4 vectors of n: params, grad, two slots (a growable memory only; no save regions). */
  fit(n: number): void {
    const need = 16 * strideOf(n) - this.memory.buffer.byteLength;
    if (need <= 0) return;
    this.memory.grow(Math.ceil(need / PAGE));
    this.f32 = new Float32Array(this.memory.buffer);
  }

  /** Vector v's n elements (v = 0 params, 1 grad, 2 and 3 the slots). */
  view(v: number, n: number): Float32Array {
    const stride = strideOf(n);
    return this.f32.subarray(v * stride, v * stride + n);
  }
}

/**
 * The kernels. Vectors must be in the module's memory: a step copies params and grad in and
 * params out (Float32Array.set, a memcpy). Optimizer slots of createOptimizerState live there for
 * good (residentSlots: each large state has its own memory, never grown, so its views stay valid,
 * with room for the slots' saves); any other slots (deserialized, sliced views) are copied
 * in and out of a shared scratch memory.
 */
class Kernels {
  private readonly scratch: KernelMemory;
  /** A resident state's first slot -> its memory. */
  private readonly homes = new WeakMap<Float32Array, KernelMemory>();

  constructor(private readonly module: object) {
    this.scratch = new KernelMemory(module, new wasm!.Memory({ initial: 1 }));
  }

  /** Slots for a new state of n parameters, in a memory of their own; null for small ones. */
  residentSlots(count: number, n: number): Float32Array[] | null {
    if (count === 0 || n < RESIDENT_MIN) return null;
    // params, grad, the slots and B's save region (A's is G's)
    const pages = Math.ceil((4 * (2 + 2 * count - 1) * strideOf(n)) / PAGE);
    const home = new KernelMemory(this.module, new wasm!.Memory({ initial: pages, maximum: pages }));
    const slots = Array.from({ length: count }, (_, i) => home.view(2 + i, n));
    this.homes.set(slots[0], home);
    return slots;
  }

  /**
   * One update of params (and slots a, b) in place over the unmasked runs [from, to) that
   * `runs` lists; masked parameters are left to the caller. Returns whether every updated
   * parameter is finite. When one is not and `undo` is set, params and slots are left as they
   * were: params and copied slots are not copied out, resident slots are restored from their
   * saves (written by the _save kernel as it goes, so a finite step copies nothing more).
   */
  run(
    type: OptimizerType,
    params: Float32Array,
    grad: Float32Array,
    slots: Float32Array[],
    terms: number[],
    runs: ReadonlyArray<readonly [number, number]> | null,
    undo: boolean,
  ): boolean {
    const n = params.length;
    const home = slots.length > 0 ? this.homes.get(slots[0]) : undefined;
    const resident = home !== undefined && slots.every((s, i) => s.length === n && isView(s, home.view(2 + i, n)));
    const mem = resident ? home : this.scratch;
    if (!resident) mem.fit(n);
    mem.view(0, n).set(params);
    mem.view(1, n).set(grad);
    if (!resident) slots.forEach((s, i) => mem.view(2 + i, n).set(s));
    const save = undo && resident;
    const bytes = 4 * strideOf(n);
    const [saveA, saveB] = [bytes, (2 + slots.length) * bytes]; // G's place, then a region after the slots
    const fn = mem.fns[save ? `${type}_save` : type];
    const t = terms;
    const call = (from: number, to: number) =>
      fn(
        0,
        bytes,
        2 * bytes,
        3 * bytes,
        saveA,
        saveB,
        4 * from,
        4 * to,
        t[0],
        t[1],
        t[2],
        t[3],
        t[4],
        t[5],
        t[6],
        t[7],
        t[8],
      );
    const whole = [[0, n]] as const;
    let sum = 0;
    for (const [from, to] of runs ?? whole) sum += call(from, to);
    const finite = sum === 0;
    if (!finite && undo) {
      if (save) {
        slots.forEach((s, i) => {
          const saved = mem.view(i === 0 ? 1 : 2 + slots.length, n);
          for (const [from, to] of runs ?? whole) s.set(saved.subarray(from, to), from);
        });
      }
      return false;
    }
    params.set(mem.view(0, n));
    if (!resident) slots.forEach((s, i) => s.set(mem.view(2 + i, n)));
    return finite;
  }
}

/** Below this many parameters a state's slots are plain arrays (copying them costs little). */
const RESIDENT_MIN = 4096;

const isView = (a: Float32Array, b: Float32Array) => a.buffer === b.buffer && a.byteOffset === b.byteOffset;

let kernels: Kernels | null | undefined;

/** The module's kernels, assembled on first use; null when this runtime lacks WebAssembly SIMD. */
export function updateKernels(): Kernels | null {
  if (kernels === undefined) {
    const bytes = kernelModuleBytes();
    kernels = wasm?.validate(bytes) ? new Kernels(new wasm.Module(bytes)) : null;
  }
  return kernels;
}

export type { Kernels };

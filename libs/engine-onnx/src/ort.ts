import type * as OrtModule from 'onnxruntime-node';

/** The onnxruntime-node module. */
export type Ort = typeof OrtModule;
export type OrtSession = OrtModule.InferenceSession;
export type OrtTensor = OrtModule.Tensor;

export interface SessionConfig {
  /** Intra-op threads of every session (default 1). Results are reproducible at a fixed count. */
  readonly threads?: number;
  /**
   * onnxruntime's graph optimisation level (default 'all'). Every level is deterministic: the
   * rewrites (Gemm + activation fusion, constant folding) are fixed at session creation.
   */
  readonly graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** How to load onnxruntime-node (default: import it). Tests inject a failing loader. */
  readonly loadOrt?: () => Ort | Promise<Ort>;
}

/** Import onnxruntime-node, whichever way the module system wraps a CommonJS package. */
export async function importOrt(): Promise<Ort> {
  const m = (await import('onnxruntime-node')) as Ort & { default?: Ort };
  return typeof m.InferenceSession === 'function' ? m : m.default!;
}

export function resolveThreads(threads: number | undefined): number {
  const t = threads ?? 1;
  if (!Number.isInteger(t) || t < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
  return t;
}

/**
 * Session options for reproducible results: a fixed intra-op thread count, one inter-op thread,
 * sequential execution (no node-level parallelism whose order could vary).
 */
export function sessionOptions(config: SessionConfig): OrtModule.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    intraOpNumThreads: resolveThreads(config.threads),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: config.graphOptimizationLevel ?? 'all',
    enableCpuMemArena: true,
    enableMemPattern: true,
    logSeverityLevel: 3,
  };
}

/**
 * Sessions of one model family, created lazily per batch size and kept (least recently used out).
 * Loading onnxruntime and creating a session can fail; the caller sees the rejection.
 */
export class SessionCache {
  private ort: Promise<Ort> | null = null;
  private readonly sessions = new Map<number, Promise<OrtSession>>();
  /** Runs in flight per session; an evicted session is released when its last run ends. */
  private readonly busy = new Map<Promise<OrtSession>, number>();
  private readonly retired = new Set<Promise<OrtSession>>();
  private disposed = false;

  constructor(
    private readonly config: SessionConfig,
    private readonly build: (batch: number) => Uint8Array,
    private readonly maxSessions = 8,
  ) {}

  /** The onnxruntime module (loaded once). */
  runtime(): Promise<Ort> {
    this.ort ??= (async () => (this.config.loadOrt ? this.config.loadOrt() : importOrt()))();
    return this.ort;
  }

  /** The session for one batch size, created on first use. */
  get(batch: number): Promise<OrtSession> {
    if (this.disposed) return Promise.reject(new Error('engine-onnx: session cache used after dispose()'));
    let s = this.sessions.get(batch);
    if (s) {
      // refresh its place in the LRU order
      this.sessions.delete(batch);
      this.sessions.set(batch, s);
      return s;
    }
    s = (async () => {
      const ort = await this.runtime();
      return ort.InferenceSession.create(this.build(batch), sessionOptions(this.config));
    })();
    s.catch(() => this.sessions.get(batch) === s && this.sessions.delete(batch));
    this.sessions.set(batch, s);
    while (this.sessions.size > this.maxSessions) {
      const [oldest, victim] = this.sessions.entries().next().value!;
      this.sessions.delete(oldest);
      this.retire(victim);
    }
    return s;
  }

  /** Run fn with the session of `batch`; the session is not released while fn runs. */
  async use<T>(batch: number, fn: (session: OrtSession, ort: Ort) => Promise<T>): Promise<T> {
    const entry = this.get(batch);
    this.busy.set(entry, (this.busy.get(entry) ?? 0) + 1);
    try {
      const [session, ort] = await Promise.all([entry, this.runtime()]);
      return await fn(session, ort);
    } finally {
      const n = this.busy.get(entry)! - 1;
      if (n > 0) this.busy.set(entry, n);
      else {
        this.busy.delete(entry);
        if (this.retired.delete(entry)) await release(entry);
      }
    }
  }

  /** Release every session; idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((s) => this.retire(s)));
  }

  private retire(s: Promise<OrtSession>): Promise<void> {
    if (!this.busy.has(s)) return release(s);
    this.retired.add(s);
    return Promise.resolve();
  }
}

function release(s: Promise<OrtSession>): Promise<void> {
  return s.then((v) => v.release()).catch(() => undefined);
}

import type { NetworkSpec } from '@nnq/nn';

/** Main thread -> compute thread: one batch to differentiate. */
export interface ComputeRequest {
  id: number;
  /** Key of the spec (run id); the thread keeps one engine per key. */
  specKey: string;
  spec: NetworkSpec;
  /** Identity of the parameters (run and version); the thread keeps the last ones per spec key. */
  paramsKey: string;
  /** Omitted when the thread already holds `paramsKey` (saves copying every parameter per shard). */
  params?: Float32Array;
  paramCount: number;
  x: Float32Array;
  y: Float32Array;
  batch: number;
}

/** Compute thread -> main thread. */
export type ComputeResponse =
  | { id: number; ok: true; loss: number; correct: number; grad: Float32Array; engine: string; fallbackReason?: string }
  | { id: number; ok: false; error: string };

import type { NetworkSpec } from '@nnq/nn';

/** Main thread -> compute thread: one batch to differentiate. */
export interface ComputeRequest {
  id: number;
  /** Key of the spec (run id); the thread keeps one engine per key. */
  specKey: string;
  spec: NetworkSpec;
  params: Float32Array;
  x: Float32Array;
  y: Float32Array;
  batch: number;
}

/** Compute thread -> main thread. */
export type ComputeResponse =
  | { id: number; ok: true; loss: number; correct: number; grad: Float32Array; engine: string; fallbackReason?: string }
  | { id: number; ok: false; error: string };

import type { NetworkSpec } from '@nnq/nn';

/**
 * A shard's buffers: moved (transferred) to the compute thread with the request and back with
 * the response, then reused for the next shard. Each may be longer than the shard needs; the
 * thread works on views of the first `batch` rows. Reuse keeps megabytes of ArrayBuffers per
 * shard away from V8's external-memory accounting, whose GCs otherwise stall the worker.
 */
export interface ShardBuffers {
  x: Float32Array;
  y: Float32Array;
  grad: Float32Array;
  /** The parameters (copied in by lossAndGrad; the thread reads them when ComputeRequest.freshParams). */
  params: Float32Array;
}

/** Main thread -> compute thread: one batch to differentiate. */
export interface ComputeRequest {
  id: number;
  /** Key of the spec (run id); the thread keeps one engine per key. */
  specKey: string;
  spec: NetworkSpec;
  /** Identity of the parameters (run and version); the thread keeps the last ones per spec key. */
  paramsKey: string;
  /** `buffers.params` holds the parameters `paramsKey` (the thread copies them to keep); else it holds them already. */
  freshParams: boolean;
  paramCount: number;
  buffers: ShardBuffers;
  batch: number;
}

/** Compute thread -> main thread; the buffers come back either way. */
export type ComputeResponse = { id: number; buffers: ShardBuffers } & (
  { ok: true; loss: number; correct: number; engine: string; fallbackReason?: string } | { ok: false; error: string }
);

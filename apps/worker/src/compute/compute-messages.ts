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
  kind: 'loss-and-grad';
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

/**
 * Main thread -> compute thread: a shard's Gauss-Newton product G v (libs/nn CurvatureNetwork,
 * float64) at a point: the parameters in `buffers.params`, the shard's rows in `buffers.x`/`y`.
 */
export interface CurvatureRequest {
  kind: 'curvature';
  id: number;
  /** The point's identity (`<run>:<step>:<point>:<shard>`): a thread keeps the forward passes of its last points. */
  pointKey: string;
  spec: NetworkSpec;
  paramCount: number;
  buffers: ShardBuffers;
  batch: number;
  /** v as float64 LE bytes (8 · paramCount); G v summed over the rows comes back in it, float64 LE. */
  vector: ArrayBuffer;
}

export type ThreadRequest = ComputeRequest | CurvatureRequest;

/** Compute thread -> main thread; the buffers come back either way. */
export type ComputeResponse = { kind: 'loss-and-grad'; id: number; buffers: ShardBuffers } & (
  { ok: true; loss: number; correct: number; engine: string; fallbackReason?: string } | { ok: false; error: string }
);

/** Compute thread -> main thread after a CurvatureRequest; the buffers and the vector come back either way. */
export type CurvatureResponse = { kind: 'curvature'; id: number; buffers: ShardBuffers; vector: ArrayBuffer } & (
  { ok: true } | { ok: false; error: string }
);

export type ThreadResponse = ComputeResponse | CurvatureResponse;

/** The ArrayBuffers a request or response moves (never copies). */
export function transferList(m: { buffers: ShardBuffers; vector?: ArrayBuffer }): ArrayBuffer[] {
  const b = m.buffers;
  const list = [b.x.buffer, b.y.buffer, b.grad.buffer, b.params.buffer] as ArrayBuffer[];
  return m.vector ? [...list, m.vector] : list;
}

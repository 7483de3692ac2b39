import type { Batch, Preprocessing } from '@nnq/data';
import type { ShardResult } from '@nnq/protocol';

/** Where a shard's rows come from: the in-memory dataset, or a worker's chunk cache. */
export type GatherRows = (indices: Uint32Array, preprocessing: Preprocessing) => Promise<Batch> | Batch;

/** Loss, correct count and summed gradient of a batch (engine-onnx, or libs/nn's reference). */
export type LossAndGradFn = (
  params: Float32Array,
  x: Float32Array,
  y: Float32Array,
  batch: number,
) => Promise<{ loss: number; correct: number; grad: Float32Array }>;

/** One shard: gather its rows, compute loss and summed gradient at `params`. */
export async function computeShard(
  gather: GatherRows,
  compute: LossAndGradFn,
  preprocessing: Preprocessing,
  params: Float32Array,
  rows: Uint32Array,
): Promise<ShardResult> {
  const batch = await gather(rows, preprocessing);
  const r = await compute(params, batch.x, batch.y, batch.rows);
  return { grad: r.grad, loss: r.loss, correct: r.correct, rows: batch.rows };
}

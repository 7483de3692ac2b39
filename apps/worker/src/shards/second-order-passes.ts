import { decodeFloat32, encodeShardResult, passJobId, type KeySchema, type PassJob } from '@nnq/protocol';
import { shardRows } from '@nnq/training';
import { UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ComputePool } from '../compute/compute-pool';
import { engineTag } from './engine-tag';
import type { RunContext, RunContextService } from './run-context.service';

/** What the shard processor does for these jobs as for gradient shards. */
export interface PassWrites {
  /** Write a result once while the run is live (set-result.ts); 1 when this call wrote it. */
  write(runId: string, key: string, value: Buffer): Promise<number>;
  /** Claim the run's engine for job `id`, or throw the refusal (engine-claim.ts). */
  claim(runId: string, id: string, engine: string): Promise<void>;
}

/**
 * A second-order run's pass jobs (libs/protocol jobs.ts PassJobSchema; docs/deploy.md):
 * - pass-gradient: the shard's loss, correct count and gradient at soParams(step, pass), computed
 *   by the compute threads exactly as a gradient shard, written as gradient results are (float32);
 * - curvature: G v of the shard at soParams(step, point) along soVector(step, pass), by libs/nn's
 *   R-operator in float64 (the same code trainSecondOrder runs) on a compute thread (the pool's
 *   curvature, which keeps each point's forward pass), written as float64 LE.
 * Parameters or a direction no longer in Redis mean the pass is over (the coordinator read every
 * shard and deleted them): the job completes without a result. Results are written once (SET NX):
 * a duplicate changes nothing, and every copy computes the same bytes.
 */
export class SecondOrderPasses {
  constructor(
    private readonly redis: Redis,
    private readonly keys: KeySchema,
    private readonly pool: ComputePool,
    private readonly runs: RunContextService,
    private readonly out: PassWrites,
  ) {}

  async run(job: PassJob): Promise<{ written: boolean }> {
    const ctx = await this.runs.context(job.runId);
    const m = ctx.manifest;
    if (job.end > ctx.splits.train.length || (job.epoch === undefined && job.shards > m.shards)) {
      throw new UnrecoverableError(
        `job ${job.kind} ${job.runId} step ${job.step} pass ${job.pass} shard ${job.shard}: ` +
          `rows [${job.start}, ${job.end}) or ${job.shards} shards do not fit run ${job.runId}`,
      );
    }
    const key = this.keys.soResult(job.runId, job.step, job.pass, job.shard);
    const at = job.kind === 'curvature' ? job.point : job.pass;
    const raw = await this.redis.getBuffer(this.keys.soParams(job.runId, job.step, at));
    if (!raw) return { written: false };
    const params = decodeFloat32(raw, m.paramCount);
    const rows = shardRows(ctx.splits.train, ctx.perms, job);
    if (job.kind === 'pass-gradient') {
      const b = await this.gathered(m, rows);
      const cacheKey = `${job.runId}:o${job.step}x${job.pass}`;
      const r = await this.pool.lossAndGrad(job.runId, m.spec, params, cacheKey, b, rows.length);
      const result = { grad: r.grad, loss: r.loss, correct: r.correct, rows: rows.length, engine: engineTag(r.engine) };
      // float32 whatever gradientTransfer says: the in-process trainer sums the engine's float32 gradients
      const blob = encodeShardResult(result, 'float32');
      this.pool.recycle(r.buffers);
      // a shard of another engine than the run's is refused before it is written
      await this.out.claim(job.runId, passJobId(job.kind, job.runId, job.step, job.pass, job.shard), result.engine);
      return { written: (await this.out.write(job.runId, key, blob)) === 1 };
    }
    const v = await this.redis.getBuffer(this.keys.soVector(job.runId, job.step, job.pass));
    if (!v) return { written: false };
    if (v.byteLength !== m.paramCount * 8)
      throw new UnrecoverableError(`direction of ${key} has ${v.byteLength} bytes, expected ${m.paramCount * 8}`);
    // the point's rows go with every product: a thread that lacks the point runs its forward pass
    const b = await this.gathered(m, rows);
    const point = `${job.runId}:${job.step}:${job.point}:${job.shard}`;
    // G v summed over the shard's rows, float64 LE (the coordinator divides the shards' sum by the batch's rows)
    const r = await this.pool.curvature(point, m.spec, params, b, rows.length, v);
    this.pool.recycle(r.buffers);
    return { written: (await this.out.write(job.runId, key, r.gv)) === 1 };
  }

  /** The shard's rows gathered into the pool's buffers (given back when the gather fails). */
  private async gathered(m: RunContext['manifest'], rows: ArrayLike<number>) {
    const b = this.pool.buffers(m.spec, rows.length, m.paramCount);
    try {
      await this.runs.datasets.gatherBatch(m.datasetId, rows, m.preprocessing, b.x, b.y);
      return b;
    } catch (err) {
      this.pool.recycle(b);
      throw err;
    }
  }
}

import { flatMask, paramLayout } from '@nnq/nn';
import {
  bytesPerValue,
  decodeFloat32,
  decodeHalf,
  encodeFloat32,
  encodeSliceMarker,
  gradientJobEntry,
  readTrailer,
  TRAILER_BYTES,
  type KeySchema,
  type ReduceJob,
  type StepTotals,
} from '@nnq/protocol';
import {
  allFinite,
  decodeSliceState,
  encodeSliceState,
  parseRunConfig,
  reduceSlice,
  slicingApplies,
  type RunConfig,
} from '@nnq/training';
import { UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import { commitSlice, type SliceCommit } from './commit-slice';
import { reduceMismatch } from './plan-check';

/** Markers of reduced slices outlive their step only this long. */
const MARKER_TTL_MS = 6 * 60 * 60 * 1000;

/** Adds jobs to the shard queue (BullMQ addBulk). */
export type Enqueue = (jobs: ReturnType<typeof gradientJobEntry>[]) => Promise<unknown>;

interface RunReduceContext {
  config: RunConfig;
  mask: Float32Array | null;
  paramCount: number;
}

/**
 * Reduce jobs of sliced steps: read the slice of every shard's gradient (GETRANGE), of parameters
 * version v and the slice's optimizer state, sum in shard order, update (libs/training
 * reduceSlice: the bytes of the unsliced reduction), and commit the slice of version v+1. The
 * last slice also reads the shards' trailers (they follow its bytes) and totals them into
 * its marker. Before committing, a job queues its share of the next step's shards (`next`).
 */
export class SliceReducer {
  private readonly runs = new Map<string, RunReduceContext>();
  /** A connection for commits alone (their WATCH holds per connection), opened on first use. */
  private commits?: Redis;
  /** Commits one after another on it. */
  private committing: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly redis: Redis,
    private readonly keys: KeySchema,
    private readonly enqueue: Enqueue,
  ) {}

  async close(): Promise<void> {
    const c = this.commits;
    this.commits = undefined;
    if (c) await c.quit().catch(() => c.disconnect());
  }

  /** commitSlice (commit-slice.ts) on the commit connection, after the commits before it. */
  private commit(c: SliceCommit): Promise<number> {
    const conn = (this.commits ??= this.redis.duplicate());
    const run = this.committing.then(() => commitSlice(conn, c));
    this.committing = run.catch(() => undefined);
    return run;
  }

  /** Reduce a slice; `jobId` is the BullMQ id the job came under (checked with the job, plan-check.ts). */
  async reduce(job: ReduceJob, jobId: string | undefined): Promise<{ written: boolean }> {
    const { keys, redis } = this;
    const id = job.runId;
    const marker = keys.reduced(id, job.step, job.slice);
    // a duplicate of a reduced slice has nothing to reduce; it queues the next shards again in case
    // the first attempt stopped before it did (their job ids make that a no-op otherwise)
    if (await redis.exists(marker)) {
      await this.queueNext(job);
      return { written: false };
    }
    const ctx = await this.context(id);
    // the slice, version, learning rate and rows the run's coordinator queues for this step, under its id
    const mismatch = reduceMismatch(jobId, job, ctx.config, ctx.paramCount);
    if (mismatch) throw new UnrecoverableError(mismatch);
    const n = job.end - job.start;
    const where = `reduce ${id}-${job.step}-r${job.slice}`;
    if (job.end > ctx.paramCount) throw new UnrecoverableError(`${where}: range exceeds the parameters`);
    const [from, to] = [job.start * 4, job.end * 4 - 1];
    // gradients may travel at 2 bytes a value (gradientTransfer); parameters are float32
    const precision = ctx.config.gradientTransfer;
    const bpv = bytesPerValue(precision);
    // the last slice's bytes run on into the trailers
    const last = job.end === ctx.paramCount;
    const gradBytesLen = n * bpv + (last ? TRAILER_BYTES : 0);
    const pipe = redis.pipeline();
    pipe.getrangeBuffer(keys.params(id, job.version), from, to);
    // this slice's byte range of every shard's gradient
    const gradFrom = job.start * bpv;
    const gradTo = gradFrom + gradBytesLen - 1;
    for (let s = 0; s < job.shards; s++) pipe.getrangeBuffer(keys.gradient(id, job.step, s), gradFrom, gradTo);
    pipe.getBuffer(keys.optState(id, job.slice, job.step));
    const replies = (await pipe.exec()) ?? [];
    const values = replies.map(([err, v]) => {
      if (err) throw err;
      return v as Buffer | null;
    });
    const stateBytes = values.pop();
    // the step's state is gone: it was reduced and cleaned up already, or the run ended
    if (!stateBytes) return { written: false };
    const [paramBytes, ...gradBytes] = values;
    if (paramBytes?.byteLength !== n * 4) throw new Error(`${where}: parameters of version ${job.version} missing`);
    gradBytes.forEach((b, s) => {
      if (b?.byteLength !== gradBytesLen) throw new Error(`${where}: gradient of shard ${s} missing`);
    });
    // loss, correct and rows totalled in shard order, as ShardSum does
    let totals: StepTotals | undefined;
    if (last) {
      totals = { loss: 0, correct: 0, rows: 0 };
      for (const b of gradBytes) {
        const t = readTrailer(b!, n * bpv);
        totals.loss += t.loss;
        totals.correct += t.correct;
        totals.rows += t.rows;
      }
    }
    const params = decodeFloat32(paramBytes, n);
    const state = decodeSliceState(stateBytes, ctx.config.optimizer, n);
    const sumSq = reduceSlice(ctx.config, {
      grads: gradBytes.map((b) => {
        const values = b!.subarray(0, n * bpv);
        return precision === 'float32' ? decodeFloat32(values, n) : decodeHalf(values, precision);
      }),
      params,
      state,
      mask: ctx.mask ? ctx.mask.subarray(job.start, job.end) : null,
      lr: job.lr,
      rows: job.rows,
    });
    // an update that made a parameter non-finite poisons the step as a non-finite gradient does:
    // the coordinator's publish refuses it (publish-slices-3). A sum of squares is never -Infinity,
    // so it also tells the coordinator which of the two it was (gradient: NaN or +Infinity)
    const sq = Number.isFinite(sumSq) && !allFinite(params) ? -Infinity : sumSq;
    // the next step's shards go out before the commit: the queue traffic they cause overlaps the
    // other slices' reduction, not the coordinator's publish (they wait for parameters step + 1)
    await this.queueNext(job);
    const written = await this.commit({
      staging: keys.paramsStaging(id, job.version + 1),
      stateNext: keys.optState(id, job.slice, job.step + 1),
      stateNow: keys.optState(id, job.slice, job.step),
      marker,
      markerValue: encodeSliceMarker({ sq, totals }),
      markerTtlMs: MARKER_TTL_MS,
      channel: keys.resultsChannel(),
      offset: from,
      params: encodeFloat32(params),
      state: encodeSliceState(state, ctx.config.optimizer, 0, n),
    });
    return { written: written === 1 };
  }

  /** This job's share of the next step's shards, queued ahead (they wait for parameters step + 1). */
  private async queueNext(job: ReduceJob): Promise<void> {
    if (!job.next?.length) return;
    const step = job.step + 1;
    await this.enqueue(
      job.next.map((r) =>
        gradientJobEntry({
          kind: 'gradient',
          runId: job.runId,
          step,
          shard: r.shard,
          shards: job.shards,
          version: step,
          epoch: r.epoch,
          start: r.start,
          end: r.end,
          ahead: true,
        }),
      ),
    );
  }

  /** The run's config (as stored by the coordinator) and flat mask, read once per run. */
  private async context(runId: string): Promise<RunReduceContext> {
    const cached = this.runs.get(runId);
    if (cached) return cached;
    const raw = await this.redis.get(this.keys.runConfig(runId));
    if (!raw) throw new UnrecoverableError(`run ${runId} has no config in Redis`);
    const config = parseRunConfig(JSON.parse(raw));
    if (!slicingApplies(config)) throw new UnrecoverableError(`run ${runId} does not reduce by slices`);
    const layout = paramLayout(config.model);
    const ctx = { config, mask: flatMask(config.model, layout), paramCount: layout.size };
    if (this.runs.size >= 16) this.runs.delete(this.runs.keys().next().value!);
    this.runs.set(runId, ctx);
    return ctx;
  }
}

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
  decodeSliceState,
  encodeSliceState,
  parseRunConfig,
  reduceSlice,
  slicingApplies,
  type RunConfig,
} from '@nnq/training';
import { UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';

/** Markers of reduced slices outlive their step only this long. */
const MARKER_TTL_MS = 6 * 60 * 60 * 1000;

/**
 * commit-slice-5: write one reduced slice atomically and once; announce the marker.
 *   KEYS[1] staged parameters version+1 (the coordinator renames them once all slices are in),
 *   KEYS[2] slice state step+1, KEYS[3] done marker, KEYS[4] slice state step
 *   ARGV[1] byte offset, ARGV[2] parameter bytes, ARGV[3] total parameter bytes, ARGV[4] state bytes,
 *   ARGV[5] marker value, ARGV[6] marker TTL in ms, ARGV[7] the results channel
 *   returns 1 written, 0 already reduced, -1 the step is over (its state is gone: cleaned up or run ended)
 * The coordinator deletes a step's state and markers in one MULTI after it publishes, so a late
 * duplicate can never write into a version that later steps read.
 */
const COMMIT = `
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
if redis.call('EXISTS', KEYS[4]) == 0 then return -1 end
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SETRANGE', KEYS[1], tonumber(ARGV[3]) - 1, '\\0') end
redis.call('SETRANGE', KEYS[1], ARGV[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[4])
redis.call('SET', KEYS[3], ARGV[5], 'PX', ARGV[6])
redis.call('PUBLISH', ARGV[7], KEYS[3])
return 1`;

type WithCommit = Redis & {
  nnqCommitSlice(...args: (string | number | Buffer)[]): Promise<number>;
};

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
 * last slice also reads the shards' 16-byte trailers (they follow its bytes) and totals them into
 * its marker. Before committing, a job queues its share of the next step's shards (`next`).
 */
export class SliceReducer {
  private readonly runs = new Map<string, RunReduceContext>();

  constructor(
    private readonly redis: Redis,
    private readonly keys: KeySchema,
    private readonly enqueue: Enqueue,
  ) {
    if (typeof (redis as WithCommit).nnqCommitSlice !== 'function') {
      redis.defineCommand('nnqCommitSlice', { numberOfKeys: 4, lua: COMMIT });
    }
  }

  async reduce(job: ReduceJob): Promise<{ written: boolean }> {
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
    for (let s = 0; s < job.shards; s++) pipe.getrangeBuffer(keys.gradient(id, job.step, s), job.start * bpv, job.start * bpv + gradBytesLen - 1); // prettier-ignore
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
    const sq = reduceSlice(ctx.config, {
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
    // the next step's shards go out before the commit: the queue traffic they cause overlaps the
    // other slices' reduction, not the coordinator's publish (they wait for parameters step + 1)
    await this.queueNext(job);
    const written = await (redis as WithCommit).nnqCommitSlice(
      keys.paramsStaging(id, job.version + 1),
      keys.optState(id, job.slice, job.step + 1),
      marker,
      keys.optState(id, job.slice, job.step),
      from,
      encodeFloat32(params),
      ctx.paramCount * 4,
      encodeSliceState(state, ctx.config.optimizer, 0, n),
      encodeSliceMarker({ sq, totals }),
      MARKER_TTL_MS,
      keys.resultsChannel(),
    );
    return { written: written === 1 };
  }

  /** This job's share of the next step's shards, queued ahead (they wait for parameters step + 1). */
  private async queueNext(job: ReduceJob): Promise<void> {
    if (!job.next?.length) return;
    const step = job.step + 1;
    await this.enqueue(
      job.next.map(
        (r) =>
        gradientJobEntry({ kind: 'gradient', runId: job.runId, step, shard: r.shard, shards: job.shards, version: step, epoch: r.epoch, start: r.start, end: r.end, ahead: true }), // prettier-ignore
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

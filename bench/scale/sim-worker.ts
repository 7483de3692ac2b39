/**
 * A process of simulated workers for bench/scale: SIM_WORKERS BullMQ workers (concurrency 1 each,
 * one per simulated worker) on the shard queue. A gradient job reads the parameters once per
 * version per simulated worker, as a real worker does, and answers with a precomputed random
 * gradient (written like the real worker: @nnq/exchange's setResult); reduce jobs run its SliceReducer;
 * evaluation jobs answer with a constant part. The arithmetic is gone, the coordination is not.
 *
 *   env: REDIS_URL, NNQ_PREFIX, SIM_WORKERS
 */
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { setResult, SliceReducer } from '@nnq/exchange';
import { encodeShardResult, KeySchema, NoticeBoard, SHARD_QUEUE, ShardJobSchema } from '@nnq/protocol';
import { RunManifestSchema } from '@nnq/training';

const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const keys = new KeySchema(process.env.NNQ_PREFIX ?? 'nnq');
const count = Number(process.env.SIM_WORKERS ?? 1);
const connection = { host: url.hostname, port: Number(url.port), maxRetriesPerRequest: null };
const redis = new Redis(connection);
const queue = new Queue(SHARD_QUEUE, { connection, prefix: keys.bullPrefix() });
const reducer = new SliceReducer(redis, keys, (jobs) => queue.addBulk(jobs));
// wake-ups of jobs queued ahead: the coordinator publishes `<runId>:<version>` on the params channel
const notices = new NoticeBoard(() => redis.duplicate());
const paramCounts = new Map<string, Promise<number>>();
const blobs = new Map<string, Buffer>();

function paramCount(runId: string): Promise<number> {
  let p = paramCounts.get(runId);
  if (!p) {
    p = redis.get(keys.runManifest(runId)).then((raw) => RunManifestSchema.parse(JSON.parse(raw!)).paramCount);
    paramCounts.set(runId, p);
  }
  return p;
}

/** One random gradient per run and shard size (values ~1e-3, so Adam stays finite). */
function blob(runId: string, P: number, rows: number): Buffer {
  const key = `${runId}:${rows}`;
  let b = blobs.get(key);
  if (!b) {
    if (blobs.size > 8) blobs.clear();
    const grad = new Float32Array(P);
    let x = 12345;
    for (let i = 0; i < P; i++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      grad[i] = (x / 2 ** 32 - 0.5) * 1e-3 * rows;
    }
    b = encodeShardResult({ grad, loss: 0.7 * rows, correct: rows >> 1, rows });
    blobs.set(key, b);
  }
  return b;
}

function simulated(): (job: Job) => Promise<unknown> {
  let version = '';
  return async (job) => {
    const data = ShardJobSchema.parse(job.data);
    if (data.kind === 'reduce') return reducer.reduce(data, job.id);
    if (data.kind === 'evaluate') {
      const part = JSON.stringify({ loss: 0.5 * (data.end - data.start), correct: 0, rows: data.end - data.start });
      return setResult(
        redis,
        keys.evaluation(data.runId, data.evalId, data.shard),
        keys.runManifest(data.runId),
        part,
        3_600_000,
        keys.resultsChannel(),
      );
    }
    const key = keys.gradient(data.runId, data.step, data.shard);
    if (await redis.exists(key)) return 0;
    const P = await paramCount(data.runId);
    // a real worker reads each parameter version once (then its threads cache it)
    if (version !== `${data.runId}:${data.version}`) {
      // a job queued ahead waits for its parameters, woken by their notice as real workers are
      const topic = `${data.runId}:${data.version}`;
      await notices.listen(keys.paramsChannel());
      let since = notices.mark();
      let params = await redis.getBuffer(keys.params(data.runId, data.version));
      for (let i = 0; data.ahead && !params && i < 100; i++) {
        await notices.wait({ topic, since, ms: 50 });
        since = notices.mark();
        params = await redis.getBuffer(keys.params(data.runId, data.version));
      }
      if (params?.byteLength !== P * 4) throw new Error(`parameters ${data.version} missing`);
      version = `${data.runId}:${data.version}`;
    }
    return setResult(
      redis,
      key,
      keys.runManifest(data.runId),
      blob(data.runId, P, data.end - data.start),
      3_600_000,
      keys.resultsChannel(),
    );
  };
}

const workers = Array.from(
  { length: count },
  () =>
    new Worker(SHARD_QUEUE, simulated(), {
      connection,
      prefix: keys.bullPrefix(),
      concurrency: 1,
    }),
);
process.stdout.write(`sim workers ready: ${count}\n`);
process.on('SIGTERM', () => {
  void Promise.all(workers.map((w) => w.close(true)))
    .then(() => Promise.all([queue.close(), notices.close(), reducer.close(), redis.quit()]))
    .finally(() => process.exit(0));
});

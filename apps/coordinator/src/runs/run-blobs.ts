import type { KeySchema } from '@nnq/protocol';
import type { Redis } from 'ioredis';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runDir, writeFileAtomic } from './run-files';

/**
 * Checkpoints kept per run, newest first: the newest is what a coordinator resumes from; the one
 * before it is there should the newest be damaged or newer than the run's saved record (a
 * coordinator killed between writing a checkpoint and saving the record).
 */
export const CHECKPOINTS_KEPT = 2;

/** A stored checkpoint's bytes (checkpoint.ts), its step, and where it came from (for messages). */
export interface StoredCheckpoint {
  step: number;
  bytes: Buffer;
  where: string;
}

/**
 * Where a run's checkpoints and model are kept (NNQ_RUN_STORE): in Redis, so a coordinator
 * started on another machine with only REDIS_URL finds them, or as files under NNQ_DATA_DIR.
 * Either way a run keeps its newest CHECKPOINTS_KEPT checkpoints and one model; DELETE /runs/:id
 * and retention remove them with the run (RunStore.remove takes the run's Redis keys, RunRemoval
 * its directory).
 */
export interface RunBlobs {
  readonly kind: 'redis' | 'files';
  /** Store the checkpoint after `step` steps, then drop all but the newest CHECKPOINTS_KEPT. */
  saveCheckpoint(runId: string, step: number, bytes: Buffer): Promise<void>;
  /** The run's checkpoints, newest first (unread bytes are not checked here: decodeCheckpoint does). */
  checkpoints(runId: string): Promise<StoredCheckpoint[]>;
  saveModel(runId: string, bytes: Uint8Array): Promise<void>;
  /** The run's model file, or null when it has none (yet). */
  model(runId: string): Promise<Buffer | null>;
}

/** Checkpoints and models as Redis strings in the run's hash slot ({run:<id>}, keys.ts). */
export class RedisRunBlobs implements RunBlobs {
  readonly kind = 'redis';

  constructor(
    private readonly redis: Redis,
    private readonly keys: KeySchema,
  ) {}

  async saveCheckpoint(runId: string, step: number, bytes: Buffer): Promise<void> {
    const { redis, keys } = this;
    const index = keys.runCheckpoints(runId);
    await exec(redis.multi().set(keys.runCheckpoint(runId, step), bytes).zadd(index, String(step), String(step)));
    // every step but the newest CHECKPOINTS_KEPT (ranks 0 .. -(K+1) in ascending order)
    const old = await redis.zrange(index, 0, String(-(CHECKPOINTS_KEPT + 1)));
    if (old.length)
      await exec(
        redis
          .multi()
          .del(...old.map((s) => keys.runCheckpoint(runId, Number(s))))
          .zrem(index, ...old),
      );
  }

  async checkpoints(runId: string): Promise<StoredCheckpoint[]> {
    const steps = (await this.redis.zrevrange(this.keys.runCheckpoints(runId), 0, -1)).map(Number);
    const out: StoredCheckpoint[] = [];
    for (const step of steps) {
      const key = this.keys.runCheckpoint(runId, step);
      const bytes = await this.redis.getBuffer(key);
      if (bytes) out.push({ step, bytes, where: `Redis key ${key}` });
    }
    return out;
  }

  async saveModel(runId: string, bytes: Uint8Array): Promise<void> {
    await this.redis.set(this.keys.runModel(runId), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }

  model(runId: string): Promise<Buffer | null> {
    return this.redis.getBuffer(this.keys.runModel(runId));
  }
}

/** Checkpoints and models as files under NNQ_DATA_DIR/runs/<id>/ (written to a temp name, renamed). */
export class FileRunBlobs implements RunBlobs {
  readonly kind = 'files';

  constructor(private readonly dataDir: string) {}

  saveCheckpoint(runId: string, step: number, bytes: Buffer): Promise<void> {
    return settle(() => {
      writeFileAtomic(this.checkpointFile(runId, step), bytes);
      for (const old of this.steps(runId).slice(CHECKPOINTS_KEPT)) rmSync(this.checkpointFile(runId, old));
    });
  }

  checkpoints(runId: string): Promise<StoredCheckpoint[]> {
    return settle(() =>
      this.steps(runId).map((step) => {
        const where = this.checkpointFile(runId, step);
        return { step, bytes: readFileSync(where), where };
      }),
    );
  }

  saveModel(runId: string, bytes: Uint8Array): Promise<void> {
    return settle(() => writeFileAtomic(fileModelPath(this.dataDir, runId), bytes));
  }

  model(runId: string): Promise<Buffer | null> {
    const path = fileModelPath(this.dataDir, runId);
    return settle(() => (existsSync(path) ? readFileSync(path) : null));
  }

  private checkpointFile(runId: string, step: number): string {
    return join(runDir(this.dataDir, runId), `checkpoint-${step}.bin`);
  }

  /** Steps of the run's checkpoint files, newest first. */
  private steps(runId: string): number[] {
    const dir = runDir(this.dataDir, runId);
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .map((f) => /^checkpoint-(\d+)\.bin$/.exec(f))
      .filter((m): m is RegExpExecArray => !!m)
      .map((m) => Number(m[1]))
      .sort((a, b) => b - a);
  }
}

const fileModelPath = (dataDir: string, runId: string) => join(runDir(dataDir, runId), 'model.safetensors');

/** The store NNQ_RUN_STORE names (loadConfig resolves it: `files` when NNQ_DATA_DIR is set, else `redis`). */
export function createRunBlobs(
  config: { NNQ_RUN_STORE?: 'redis' | 'files'; NNQ_DATA_DIR: string },
  redis: Redis,
  keys: KeySchema,
): RunBlobs {
  return config.NNQ_RUN_STORE === 'files' ? new FileRunBlobs(config.NNQ_DATA_DIR) : new RedisRunBlobs(redis, keys);
}

/** Injection token of the coordinator's RunBlobs. */
export const RUN_BLOBS = Symbol('RUN_BLOBS');

/** `fn()` as a promise (a throw rejects it): the file store answers as the Redis one does. */
const settle = <T>(fn: () => T): Promise<T> => new Promise((resolve) => resolve(fn()));

/** Run a MULTI; a command's error (the MULTI itself succeeded) is thrown, not dropped. */
async function exec(m: ReturnType<Redis['multi']>): Promise<void> {
  const results = await m.exec();
  const failed = results?.find(([err]) => err);
  if (failed) throw failed[0];
}

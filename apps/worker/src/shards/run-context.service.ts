import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { KEYS, REDIS } from '@nnq/cluster';
import { DatasetCache } from '@nnq/data';
import { decodeFloat32, type KeySchema } from '@nnq/protocol';
import { PermutationCache, RunManifestSchema, type RunManifest } from '@nnq/training';
import type { Redis } from 'ioredis';
import { ParamsNotices } from './params-notices';

/** A run as a worker sees it: manifest, split row lists, epoch permutations, parameters by version. */
export interface RunContext {
  manifest: RunManifest;
  splits: { train: Uint32Array; validation: Uint32Array; test: Uint32Array };
  perms: PermutationCache;
  params: Map<number, Promise<Float32Array>>;
}

export class MissingStateError extends Error {}

/** Parameters a step ahead did not arrive in time: the job goes back to the queue for a while. */
export class ParamsNotReadyError extends Error {}

/** How often a worker waiting on parameters re-reads their key when no notice arrives. */
const PARAMS_POLL_MS = 50;

/**
 * Caches what shards of a run share, so a worker reads each manifest, split and parameter
 * version from Redis once, and each dataset chunk once (DatasetCache).
 */
@Injectable()
export class RunContextService implements OnApplicationShutdown {
  private readonly runs = new Map<string, Promise<RunContext>>();
  readonly datasets: DatasetCache;
  private readonly notices: ParamsNotices;
  /** Bytes and seconds spent fetching parameters (for metrics). */
  onParamsFetched?: (bytes: number, seconds: number) => void;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(KEYS) private readonly keys: KeySchema,
  ) {
    this.datasets = new DatasetCache(redis, keys.prefix, { maxBytes: 512 << 20 });
    this.notices = new ParamsNotices(redis, keys.paramsChannel());
  }

  async onApplicationShutdown(): Promise<void> {
    await this.notices.close();
  }

  context(runId: string): Promise<RunContext> {
    let c = this.runs.get(runId);
    if (!c) {
      c = this.load(runId);
      c.catch(() => this.runs.delete(runId));
      this.runs.set(runId, c);
      while (this.runs.size > 16) this.runs.delete(this.runs.keys().next().value as string);
    }
    return c;
  }

  private async load(runId: string): Promise<RunContext> {
    const raw = await this.redis.get(this.keys.runManifest(runId));
    if (!raw) throw new MissingStateError(`run ${runId} has no manifest in Redis (finished, cancelled or unknown)`);
    const manifest = RunManifestSchema.parse(JSON.parse(raw));
    const split = async (name: 'train' | 'validation' | 'test') => {
      const b = await this.redis.getBuffer(this.keys.runSplit(runId, name));
      if (!b) throw new MissingStateError(`run ${runId} has no ${name} split in Redis`);
      const out = new Uint32Array(b.byteLength / 4);
      new Uint8Array(out.buffer).set(b);
      if (out.length !== manifest.splitRows[name])
        throw new Error(`run ${runId} ${name} split has ${out.length} rows, manifest says ${manifest.splitRows[name]}`);
      return out;
    };
    const [train, validation, test] = await Promise.all([split('train'), split('validation'), split('test')]);
    return {
      manifest,
      splits: { train, validation, test },
      perms: new PermutationCache(train.length, manifest.seed),
      params: new Map(),
    };
  }

  /**
   * Parameters of `version`, fetched once; the two newest versions stay cached. With `waitMs`
   * (a job queued a step ahead), a version still being computed is waited for that long.
   */
  params(ctx: RunContext, version: number, waitMs = 0): Promise<Float32Array> {
    let p = ctx.params.get(version);
    if (!p) {
      p = (async () => {
        const runId = ctx.manifest.runId;
        const key = this.keys.params(runId, version);
        const deadline = Date.now() + waitMs;
        let lastLook = false;
        for (;;) {
          const started = process.hrtime.bigint();
          const b = await this.redis.getBuffer(key);
          if (b) {
            const v = decodeFloat32(b, ctx.manifest.paramCount);
            this.onParamsFetched?.(b.byteLength, Number(process.hrtime.bigint() - started) / 1e9);
            return v;
          }
          // version v-1 is deleted in the MULTI that writes v: when neither exists on a second look
          // (v may have landed between the two reads), v is past or the run is over
          const pending = waitMs > 0 && version > 0 && (await this.redis.exists(this.keys.params(runId, version - 1))) === 1; // prettier-ignore
          if (!pending) {
            if (lastLook || waitMs === 0) throw new MissingStateError(`run ${runId} has no parameters of version ${version}`); // prettier-ignore
            lastLook = true;
            continue;
          }
          const left = deadline - Date.now();
          if (left <= 0) throw new ParamsNotReadyError(`parameters ${version} of run ${runId} not published within ${waitMs} ms`); // prettier-ignore
          await this.notices.next(runId, version, Math.min(left, PARAMS_POLL_MS));
        }
      })();
      p.catch(() => ctx.params.delete(version));
      ctx.params.set(version, p);
      for (const k of [...ctx.params.keys()].sort((a, b) => a - b).slice(0, -2)) ctx.params.delete(k);
    }
    return p;
  }
}

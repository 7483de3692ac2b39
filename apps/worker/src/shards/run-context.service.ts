import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { KEYS, REDIS } from '@nnq/cluster';
import { DatasetCache } from '@nnq/data';
import { ReplicaNonFiniteError, ReplicaNotYetError, ReplicaPastError, Replicas } from '@nnq/exchange';
import { decodeFloat32Into, type KeySchema } from '@nnq/protocol';
import { PermutationCache, RunManifestSchema, type RunManifest } from '@nnq/training';
import type { Redis } from 'ioredis';
import { ParamsNotices } from './params-notices';

/** A run as a worker sees it: manifest, split row lists, epoch permutations, parameters by version. */
export interface RunContext {
  manifest: RunManifest;
  splits: { train: Uint32Array; validation: Uint32Array; test: Uint32Array };
  perms: PermutationCache;
  /** Parameters by version (the two newest), each in one of `slots`. */
  params: Map<number, Promise<ParamsSlot>>;
  slots: ParamsSlot[];
  /** The run's steps are replicated: parameters come from this worker's replica (@nnq/exchange replica.ts). */
  replicated: boolean;
}

/**
 * Parameters of one version, in a buffer reused for a later version once this one has left the
 * cache: a run's parameters cost no allocation a version. (A new buffer a version, kept for two
 * steps, doubled the workers' full collections; SharedArrayBuffers, before that, were never
 * collected at all: V8 does not count their memory.) Read the values through `paramsValues`.
 */
export interface ParamsSlot {
  version: number;
  readonly values: Float32Array;
}

export class MissingStateError extends Error {}

/** Parameters `version` of the run are not out yet: the job is parked for `delayMs` (park.ts). */
export class ParamsNotReadyError extends Error {
  constructor(
    message: string,
    readonly delayMs: number,
    readonly runId: string,
    readonly version: number,
  ) {
    super(message);
  }
}

/** The job's step is over (its parameters were replaced): nothing to compute. */
export class StepPastError extends Error {}

/**
 * What a job read of its run at pickup, in the round trip of its other checks (shard.processor.ts):
 * the run's published version and whether its manifest exists, read after notice mark `since`.
 * A replicated run's parameters take it as their first look instead of reading both again.
 */
export interface RunLook {
  since: number;
  published: string | null;
  live: boolean;
}

/** How often a worker waiting on parameters re-reads their key when no notice arrives. */
const PARAMS_POLL_MS = 50;
/** How long a job whose parameters are late stays delayed before a worker tries again. */
const AHEAD_DELAY_MS = 50;
/** ...and one far ahead of a resumed coordinator (a few steps at least). */
const RESUME_DELAY_MS = 1_000;

/**
 * Caches what shards of a run share, so a worker reads each manifest, split and parameter
 * version from Redis once, and each dataset chunk once (DatasetCache).
 */
@Injectable()
export class RunContextService implements OnApplicationShutdown {
  private readonly runs = new Map<string, Promise<RunContext>>();
  /** The same contexts once loaded (lookWanted is synchronous). */
  private readonly loaded = new Map<string, RunContext>();
  readonly datasets: DatasetCache;
  private readonly notices: ParamsNotices;
  readonly replicas: Replicas;
  /** Bytes and seconds spent fetching parameters (for metrics). */
  onParamsFetched?: (bytes: number, seconds: number) => void;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(KEYS) private readonly keys: KeySchema,
  ) {
    this.datasets = new DatasetCache(redis, keys.prefix, { maxBytes: 512 << 20 });
    this.notices = new ParamsNotices(redis, keys.paramsChannel());
    this.replicas = new Replicas(redis, keys);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.notices.close();
  }

  /**
   * Hold a gradient of a replicated run this worker computed for its replica's next update
   * (Replicas.keep) and wake this process's jobs waiting for parameters step+1: they need not
   * wait for its write to Redis and the notice back. False when the replica does not take it.
   */
  keepOwn(runId: string, step: number, shard: number, blob: Buffer, release: (blob: Buffer) => void): boolean {
    if (!this.replicas.keep(runId, step, shard, blob, release)) return false;
    this.notices.post(runId, step + 1);
    return true;
  }

  context(runId: string): Promise<RunContext> {
    let c = this.runs.get(runId);
    if (!c) {
      const loading = (c = this.load(runId));
      c.then(
        (ctx) => this.runs.get(runId) === loading && this.loaded.set(runId, ctx),
        () => this.runs.delete(runId),
      );
      this.runs.set(runId, c);
      while (this.runs.size > 16) {
        const oldest = this.runs.keys().next().value as string;
        this.runs.delete(oldest);
        this.loaded.delete(oldest);
      }
    }
    return c;
  }

  /** A notice mark (params-notices.ts) for a RunLook: take it before the look's reads. */
  mark(): number {
    return this.notices.mark();
  }

  /**
   * Whether a gradient job of parameters `version` should read its run's version at pickup (a
   * RunLook): the run is loaded and replicated, and the version is not fetched or being fetched.
   */
  lookWanted(runId: string, version: number): boolean {
    const ctx = this.loaded.get(runId);
    return !!ctx?.replicated && !ctx.params.has(version);
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
    const [train, validation, test, replicated] = await Promise.all([
      split('train'),
      split('validation'),
      split('test'),
      this.replicas.replicated(runId),
    ]);
    return {
      manifest,
      splits: { train, validation, test },
      perms: new PermutationCache(train.length, manifest.seed),
      params: new Map(),
      slots: [],
      replicated,
    };
  }

  /**
   * Parameters of `version`, fetched once; the two newest versions stay cached. When they are not
   * in Redis, the run's published version V tells why: V = version - 1, the step before is still
   * running (a job queued ahead waits `waitMs` for them); V < version - 1, a coordinator resumed
   * from an earlier checkpoint (the job waits in the queue until it gets there); V > version, the
   * step is over.
   */
  params(ctx: RunContext, version: number, waitMs = 0, look?: RunLook): Promise<ParamsSlot> {
    let p = ctx.params.get(version);
    if (!p) {
      p = this.fetchParams(ctx, version, waitMs, look);
      p.catch(() => ctx.params.delete(version));
      ctx.params.set(version, p);
      for (const k of [...ctx.params.keys()].sort((a, b) => a - b).slice(0, -2)) ctx.params.delete(k);
    }
    return p;
  }

  private async fetchParams(ctx: RunContext, version: number, waitMs: number, look?: RunLook): Promise<ParamsSlot> {
    const runId = ctx.manifest.runId;
    const key = this.keys.params(runId, version);
    const deadline = Date.now() + waitMs;
    // a replicated run's first look may have come with its job's pickup (RunLook)
    let first = ctx.replicated ? look : undefined;
    for (; ; first = undefined) {
      const since = first?.since ?? this.notices.mark();
      const started = process.hrtime.bigint();
      // a replica one step behind tries step version-1's gradients before it reads the run's
      // version: once woken, it has them all when this worker's own gradient is the last (no
      // round trip behind the gradient's write) or when another worker's notice says so
      const early = ctx.replicated && !first && this.replicas.versionOf(runId) === version - 1;
      if (early) {
        const slot = await this.replicaParams(ctx, version, started, true);
        if (slot) return slot;
      }
      // a replicated run has no parameters in Redis: its version says when the replica can make them
      const b = ctx.replicated ? null : await this.redis.getBuffer(key);
      if (b) {
        const n = ctx.manifest.paramCount;
        if (b.byteLength !== n * 4)
          throw new Error(`parameters ${version} of run ${runId} have ${b.byteLength} bytes, expected ${n * 4}`);
        const slot = this.slot(ctx, version);
        decodeFloat32Into(b, slot.values);
        this.onParamsFetched?.(b.byteLength, Number(process.hrtime.bigint() - started) / 1e9);
        return slot;
      }
      const { published, live } = first ?? (await this.look(runId));
      if (!live) throw new MissingStateError(`run ${runId} is over (no manifest in Redis)`);
      // every coordinator sets the version before it queues a job: without it, the job is not one of its
      if (published === null) throw new MissingStateError(`run ${runId} has no parameters of version ${version}`);
      const V = Number(published);
      if (V > version) throw new StepPastError(`step ${version} of run ${runId} is over (parameters ${V} are out)`);
      if (V === version && ctx.replicated) return this.replicaParams(ctx, version, started);
      // a replica need not wait for the coordinator's version: step version-1's gradients written
      // (each writer's notice wakes this wait) are all it takes
      if (V === version - 1 && ctx.replicated && !early) {
        const slot = await this.replicaParams(ctx, version, started, true);
        if (slot) return slot;
      }
      if (V === version) continue; // published between the two reads
      if (V < version - 1)
        throw new ParamsNotReadyError(
          `run ${runId} is at parameters ${V}, not ${version - 1}`,
          RESUME_DELAY_MS,
          runId,
          version,
        );
      const left = deadline - Date.now();
      if (left <= 0)
        throw new ParamsNotReadyError(
          `parameters ${version} of run ${runId} not out within ${waitMs} ms`,
          AHEAD_DELAY_MS,
          runId,
          version,
        );
      await this.notices.next(runId, version, Math.min(left, PARAMS_POLL_MS), since);
    }
  }

  /** The run's published version and whether its manifest exists (one round trip). */
  private async look(runId: string): Promise<Omit<RunLook, 'since'>> {
    const replies = (await this.redis
      .pipeline()
      .get(this.keys.paramsVersion(runId))
      .exists(this.keys.runManifest(runId))
      .exec()) ?? [[new Error('no reply'), null]];
    for (const [err] of replies) if (err) throw err;
    return { published: (replies[0][1] as string | null) ?? null, live: replies[1][1] === 1 };
  }

  /**
   * A slot for parameters `version`: one no cached version holds (this version's key is in the map
   * already, the one it replaced is gone): the map holds two keys, so a run has three slots at most.
   */
  private slot(ctx: RunContext, version: number): ParamsSlot {
    // versions past the next one are left from before a coordinator resumed from an earlier
    // checkpoint: they would keep the current ones out of the cache (it keeps the newest)
    for (const k of [...ctx.params.keys()]) if (k > version + 1) ctx.params.delete(k);
    let slot = ctx.slots.find((s) => !ctx.params.has(s.version));
    if (!slot) ctx.slots.push((slot = { version, values: new Float32Array(ctx.manifest.paramCount) }));
    slot.version = version;
    return slot;
  }

  /**
   * Parameters `version` of a replicated run from this worker's replica (step version-1's
   * gradients are all written; asked `early`, undefined when one is still to come). A non-finite
   * step under "fail" parks the job until its run ends.
   */
  private async replicaParams(ctx: RunContext, version: number, started: bigint): Promise<ParamsSlot>;
  private async replicaParams(
    ctx: RunContext,
    version: number,
    started: bigint,
    early: true,
  ): Promise<ParamsSlot | undefined>;
  private async replicaParams(
    ctx: RunContext,
    version: number,
    started: bigint,
    early = false,
  ): Promise<ParamsSlot | undefined> {
    const runId = ctx.manifest.runId;
    let slot: ParamsSlot | undefined;
    try {
      const use = (p: Float32Array) => (slot = this.slot(ctx, version)).values.set(p);
      const bytes = await this.replicas.paramsAt(runId, version, use, early);
      this.onParamsFetched?.(bytes, Number(process.hrtime.bigint() - started) / 1e9);
    } catch (err) {
      if (err instanceof ReplicaNotYetError) return undefined;
      if (err instanceof ReplicaPastError) throw new StepPastError(err.message);
      if (err instanceof ReplicaNonFiniteError)
        throw new ParamsNotReadyError(err.message, RESUME_DELAY_MS, runId, version);
      throw err;
    }
    return slot!;
  }
}

/**
 * The values of parameters `version` from their slot; use them before the next await (a compute
 * request copies them at once). A job that held the slot while it gathered its rows may find it
 * reused for a later version: it goes back to the queue and reads the run's state again.
 */
export function paramsValues(slot: ParamsSlot, version: number, runId: string): Float32Array {
  if (slot.version !== version)
    throw new ParamsNotReadyError(
      `parameters ${version} of run ${runId} were replaced while the job waited`,
      AHEAD_DELAY_MS,
      runId,
      version,
    );
  return slot.values;
}

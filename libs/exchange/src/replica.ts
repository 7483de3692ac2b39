import { createOptimizerState, flatMask, paramLayout, type OptimizerState } from '@nnq/nn';
import { decodeFloat32Into, decodeShardResult, encodeFloat32, type KeySchema } from '@nnq/protocol';
import {
  decodeSliceState,
  encodeSliceState,
  parseRunConfig,
  ShardSum,
  StepUndo,
  stepStrategyOf,
  updateStep,
  type RunConfig,
} from '@nnq/training';
import type { Redis } from 'ioredis';
import { setResult } from './set-result';
import { encodeStepSummary, type StepSummary } from './step-summary';

/**
 * The replica of a replicated step (docs/deploy.md "Step strategies"): a worker's own copy of a
 * run's parameters and optimizer state. Parameters v+1 are parameters v with step v's update:
 * the shard gradients of step v read from Redis, summed in shard order by ShardSum and applied by
 * updateStep, the code and order of the coordinator's central step, so every replica holds the
 * same bytes. A replica that is new, restarted or behind starts from the newest snapshot (written
 * every SNAPSHOT_EVERY steps by the first replica there, published by the coordinator) and applies
 * the gradients kept since. Each step it applies, a replica writes the step's summary (the
 * coordinator's record of it: step-summary.ts) unless another did, after the snapshot it is due with.
 */

/** A replicated run's coordinator publishes a snapshot every this many steps and keeps the gradients since. */
export const SNAPSHOT_EVERY = 16;

/** Parameters older than the newest snapshot: the step they are for is over. */
export class ReplicaPastError extends Error {}

/** A step's update was non-finite under `onNonFinite: "fail"`: the run fails; its replicas go no further. */
export class ReplicaNonFiniteError extends Error {}

/** A gradient of the step before the parameters asked for is not written yet (asked `early`). */
export class ReplicaNotYetError extends Error {}

/** Snapshot bytes: parameters (float32 LE) then the optimizer state over all of them (encodeSliceState). */
export function encodeSnapshot(config: RunConfig, params: Float32Array, state: OptimizerState): Buffer {
  return Buffer.concat([encodeFloat32(params), encodeSliceState(state, config.optimizer, 0, params.length)]);
}

/** Read encodeSnapshot's bytes into `params` and `state` (sizes checked). */
export function decodeSnapshotInto(
  config: RunConfig,
  bytes: Buffer,
  params: Float32Array,
  state: OptimizerState,
): void {
  const at = params.length * 4;
  if (bytes.byteLength < at) throw new RangeError(`snapshot has ${bytes.byteLength} bytes, fewer than its parameters`);
  decodeFloat32Into(bytes.subarray(0, at), params);
  decodeSliceState(bytes.subarray(at), config.optimizer, params.length, { state, offset: 0 });
}

interface RunReplica {
  runId: string;
  config: RunConfig;
  replicated: boolean;
  mask: Float32Array | null;
  paramCount: number;
  /** The version held; -1: none (start from a snapshot). */
  version: number;
  params?: Float32Array;
  state?: OptimizerState;
  sum?: Float32Array;
  undo: StepUndo | null;
  /** Advances one after another. */
  chain: Promise<unknown>;
  /** Gradients this process wrote (`<step>:<shard>`), with what gives their buffer back once applied. */
  own: Map<string, { blob: Buffer; release: (blob: Buffer) => void }>;
  /** The last step summary's write (summarize), for `flush`. */
  writing?: Promise<void>;
  /** Gradients of one step read before the step's last was written (`early`): not read twice. */
  fetched: { step: number; blobs: Map<number, Buffer> };
}

/** Own gradients a replica holds at most (the oldest is given back first). */
const OWN_KEPT = 8;

/** How often a replica re-reads the newest snapshot when the gradients it needs were deleted meanwhile. */
const ATTEMPTS = 4;

/** Summaries and snapshots a replica writes outlive a stalled run this long (the coordinator deletes them). */
const WRITTEN_TTL_MS = 24 * 60 * 60 * 1000;

/** The replicas of one process: one per replicated run (the newest few runs). */
export class Replicas {
  private readonly runs = new Map<string, Promise<RunReplica | null>>();
  /** The same replicas once loaded, for `keep` (synchronous). */
  private readonly loaded = new Map<string, RunReplica>();
  /**
   * Fault injection (chaos tests): awaited after step t's update is applied to the replica's
   * arrays, before its version moves on, so that a test can kill a worker holding it half done.
   */
  hold?: (runId: string, t: number) => Promise<void>;

  constructor(
    private readonly redis: Redis,
    private readonly keys: KeySchema,
    private readonly maxRuns = 4,
  ) {}

  /** Whether the run's steps are replicated (its config as the coordinator stored it; read once). */
  async replicated(runId: string): Promise<boolean> {
    return (await this.replica(runId))?.replicated ?? false;
  }

  /**
   * Bring the run's replica to parameters `version` and hand them (and the optimizer state) to
   * `use`, synchronously, before any other advance of the replica (copy them there). Resolves
   * with the bytes read from Redis.
   * Callers first check that step version-1's gradients are all written (the run's version is
   * `version`), or ask `early` (the run's version is version-1: the coordinator has not seen them
   * all yet): then a gradient of step version-1 not written yet rejects with ReplicaNotYetError,
   * and the replica stays at version-1 with the gradients it has read.
   */
  async paramsAt(
    runId: string,
    version: number,
    use: (params: Float32Array, state: OptimizerState) => void,
    early = false,
  ): Promise<number> {
    const r = await this.replica(runId);
    if (!r?.replicated) throw new Error(`run ${runId} does not replicate its steps`);
    const run = r.chain.then(async () => {
      const bytes = await this.advance(r, version, early);
      use(r.params!, r.state!);
      return bytes;
    });
    r.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * A shard gradient this process computed (being written: any copy in Redis holds the same
   * bytes), held for the step's update instead of read back; `release` gets the buffer once it is
   * applied (or given up). Only for a run already known to replicate (a replica that has read its config).
   */
  keep(runId: string, step: number, shard: number, blob: Buffer, release: (blob: Buffer) => void): boolean {
    const r = this.loaded.get(runId);
    if (!r?.replicated || step < r.version) return false;
    r.own.set(`${step}:${shard}`, { blob, release });
    while (r.own.size > OWN_KEPT) this.giveBack(r, r.own.keys().next().value!);
    return true;
  }

  private giveBack(r: RunReplica, key: string): void {
    const kept = r.own.get(key);
    r.own.delete(key);
    kept?.release(kept.blob);
  }

  /** The version the run's replica holds now (-1: none loaded, or it starts from a snapshot). */
  versionOf(runId: string): number {
    return this.loaded.get(runId)?.version ?? -1;
  }

  /** Wait for the run's last step summary write to end (rejects with its error). */
  async flush(runId: string): Promise<void> {
    await (
      await this.runs.get(runId)
    )?.writing;
  }

  /** Forget a run (it ended). */
  drop(runId: string): void {
    this.runs.delete(runId);
    const gone = this.loaded.get(runId);
    this.loaded.delete(runId);
    if (gone) for (const key of [...gone.own.keys()]) this.giveBack(gone, key);
  }

  private replica(runId: string): Promise<RunReplica | null> {
    let r = this.runs.get(runId);
    if (!r) {
      r = this.load(runId);
      r.then((loaded) => loaded && this.runs.get(runId) === r && this.loaded.set(runId, loaded)).catch(() => {
        this.runs.delete(runId);
      });
      this.runs.set(runId, r);
      while (this.runs.size > this.maxRuns) {
        const oldest = this.runs.keys().next().value!;
        this.runs.delete(oldest);
        const gone = this.loaded.get(oldest);
        this.loaded.delete(oldest);
        if (gone) for (const key of [...gone.own.keys()]) this.giveBack(gone, key);
      }
    }
    return r;
  }

  private async load(runId: string): Promise<RunReplica | null> {
    // a run without a stored config is none a coordinator drives: it does not replicate
    const raw = await this.redis.get(this.keys.runConfig(runId));
    if (!raw) return null;
    const config = parseRunConfig(JSON.parse(raw));
    const layout = paramLayout(config.model);
    return {
      runId,
      config,
      replicated: stepStrategyOf(config) === 'replicated',
      mask: flatMask(config.model, layout),
      paramCount: layout.size,
      version: -1,
      undo: config.onNonFinite === 'skip' ? new StepUndo() : null,
      chain: Promise.resolve(),
      own: new Map(),
      fetched: { step: -1, blobs: new Map() },
    };
  }

  /** Apply the kept gradients from the replica's version (or the newest snapshot) up to `version`. */
  private async advance(r: RunReplica, version: number, early: boolean): Promise<number> {
    let bytes = 0;
    for (let attempt = 0; r.version !== version; attempt++) {
      if (attempt >= ATTEMPTS) throw new Error(`run ${r.runId}: the gradients up to version ${version} are gone`);
      // behind by more than a step, ahead (a coordinator resumed from an earlier checkpoint), or
      // gradients gone after the last attempt: start again from the newest snapshot
      if (r.version < 0 || r.version > version || r.version < version - 1 || attempt > 0)
        bytes += await this.fromSnapshot(r, version);
      while (r.version >= 0 && r.version < version) {
        const t = r.version;
        const read = await this.applyStep(r, t);
        // the step before `version` asked early: its missing gradient is still being computed
        if (read === null && early && t === version - 1)
          throw new ReplicaNotYetError(`step ${t} of run ${r.runId} has gradients still to come`);
        if (read === null) break; // a gradient is gone: snapshot again
        bytes += read;
      }
    }
    return bytes;
  }

  /** Load the newest snapshot when it is newer than the replica (or the replica is past `version`). */
  private async fromSnapshot(r: RunReplica, version: number): Promise<number> {
    const published = await this.redis.get(this.keys.replicaSnapshotVersion(r.runId));
    if (published === null) throw new Error(`run ${r.runId} has no snapshot`);
    const s = Number(published);
    if (s > version) throw new ReplicaPastError(`version ${version} of run ${r.runId} is older than its snapshot ${s}`);
    if (r.version >= s && r.version <= version) return 0; // the gradients from here are newer than the snapshot
    const blob = await this.redis.getBuffer(this.keys.replicaSnapshot(r.runId, s));
    if (!blob) return 0; // replaced meanwhile: the next attempt reads the newer one
    r.params ??= new Float32Array(r.paramCount);
    r.state ??= createOptimizerState(r.config.optimizer, r.paramCount);
    decodeSnapshotInto(r.config, blob, r.params, r.state);
    r.version = s;
    return blob.byteLength;
  }

  /** Step t's update from its shard gradients (the bytes read); null when one is not in Redis (any more). */
  private async applyStep(r: RunReplica, t: number): Promise<number | null> {
    const { shards, gradientTransfer } = r.config;
    // the step's gradients this process wrote are in hand; the others are read
    const blobs: Array<Buffer | null> = [];
    const missing: number[] = [];
    if (r.fetched.step !== t) r.fetched = { step: t, blobs: new Map() };
    for (let s = 0; s < shards; s++) {
      blobs[s] = r.own.get(`${t}:${s}`)?.blob ?? r.fetched.blobs.get(s) ?? null;
      if (!blobs[s]) missing.push(s);
    }
    let bytes = 0;
    if (missing.length) {
      const pipe = this.redis.pipeline();
      for (const s of missing) pipe.getBuffer(this.keys.gradient(r.runId, t, s));
      const replies = (await pipe.exec()) ?? [];
      missing.forEach((s, i) => {
        const [err, b] = replies[i] ?? [new Error('no reply')];
        if (err) throw err;
        blobs[s] = b as Buffer | null;
        bytes += (b as Buffer | null)?.byteLength ?? 0;
        if (b) r.fetched.blobs.set(s, b as Buffer);
      });
    }
    if (blobs.some((b) => !b)) return null;
    r.fetched = { step: -1, blobs: new Map() };
    const sum = new ShardSum(shards, (r.sum ??= new Float32Array(r.paramCount)));
    for (const b of blobs) sum.add(decodeShardResult(b!, r.paramCount, gradientTransfer));
    // summed (ShardSum copies): the buffers of this step and any older go back
    for (const key of [...r.own.keys()]) if (Number(key.split(':')[0]) <= t) this.giveBack(r, key);
    // the epoch only labels the record, which a replica does not keep
    const at = { t, epoch: 0 };
    const reduced = sum.result();
    const { record, nonFinite } = updateStep(r.config, r.params!, reduced, r.state!, at, r.mask, r.undo);
    const { loss, accuracy, lr, gradNorm } = record;
    const summary: StepSummary = { loss, accuracy, lr, gradNorm, rows: reduced.rows, nonFinite };
    if (nonFinite && r.config.onNonFinite === 'fail') {
      r.version = -1; // the update may have left its mark: start from a snapshot if ever asked again
      await this.summarize(r, t, summary).catch(() => undefined);
      throw new ReplicaNonFiniteError(`step ${t} of run ${r.runId} is non-finite (${nonFinite}): the run fails`);
    }
    if (this.hold) await this.hold(r.runId, t);
    // a snapshot due at t+1 is taken now, before the version moves on (the next step changes the arrays)
    const snapshot = (t + 1) % SNAPSHOT_EVERY === 0 ? encodeSnapshot(r.config, r.params!, r.state!) : undefined;
    r.version = t + 1;
    // off the path of the parameters asked for: the coordinator waits for it, this replica need not
    r.writing = this.summarize(r, t, summary, snapshot);
    r.writing.catch(() => undefined); // awaited by flush() only
    return bytes;
  }

  /**
   * Write step t's summary unless another replica did, after the snapshot of version t+1 when one
   * is due: a coordinator that reads the summary finds the snapshot. Best effort: a coordinator
   * that waits too long for either applies the step itself (replicated-step.ts).
   */
  private async summarize(r: RunReplica, t: number, summary: StepSummary, snapshot?: Buffer): Promise<void> {
    const { keys, redis } = this;
    const manifest = keys.runManifest(r.runId);
    const done = keys.replicaStep(r.runId, t);
    if (snapshot) {
      // a few MB: written once (the first replica there), and not at all once the summary is out
      if (await redis.exists(done)) return;
      const snapshotKey = keys.replicaSnapshot(r.runId, t + 1);
      if (!(await redis.exists(snapshotKey)))
        await setResult(redis, snapshotKey, manifest, snapshot, WRITTEN_TTL_MS, keys.resultsChannel());
    }
    await setResult(redis, done, manifest, encodeStepSummary(summary), WRITTEN_TTL_MS, keys.resultsChannel());
  }
}

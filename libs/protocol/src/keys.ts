/**
 * The Redis key schema. Every key starts with the deployment prefix (NNQ_PREFIX, default `nnq`),
 * so several deployments or test suites can share one Redis. A run's keys carry the hash tag
 * `{run:<id>}` so that Redis Cluster keeps them in one slot (scripts and MULTI touch several).
 * In Redis Cluster mode (`cluster: true`) the worker registry and BullMQ's keys get hash tags
 * too: the heartbeat's MULTI and `GET /workers`' MGET span the workers set and the worker keys,
 * and BullMQ's scripts span a queue's keys. Without it the names are those of a single Redis.
 */
export class KeySchema {
  constructor(
    readonly prefix: string,
    readonly options: { cluster?: boolean } = {},
  ) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(prefix)) {
      throw new Error(`key prefix must be 1-64 characters of [A-Za-z0-9_.-], got ${JSON.stringify(prefix)}`);
    }
  }

  /** Set of worker ids that announced themselves (entries outlive their heartbeat; readers prune). */
  workers(): string {
    return this.options.cluster ? `${this.prefix}:{workers}` : `${this.prefix}:workers`;
  }

  /** One worker's heartbeat: JSON WorkerInfo with a TTL; its absence means the worker is gone. */
  worker(id: string): string {
    return this.options.cluster ? `${this.prefix}:{workers}:${id}` : `${this.prefix}:worker:${id}`;
  }

  /** Prefix handed to BullMQ queues and workers (a hash tag in cluster mode, as BullMQ requires). */
  bullPrefix(): string {
    return this.options.cluster ? `{${this.prefix}:bull}` : `${this.prefix}:bull`;
  }

  private run(runId: string): string {
    return `${this.prefix}:{run:${runId}}`;
  }

  /** Run record (JSON state) for run `runId`. */
  runState(runId: string): string {
    return `${this.run(runId)}:state`;
  }

  /** Run config as submitted (JSON). */
  runConfig(runId: string): string {
    return `${this.run(runId)}:config`;
  }

  /** What workers need to compute a shard: spec, dataset id, preprocessing, batch layout (JSON). */
  runManifest(runId: string): string {
    return `${this.run(runId)}:manifest`;
  }

  /** Row indices of a split (little-endian uint32 blob). */
  runSplit(runId: string, split: string): string {
    return `${this.run(runId)}:split:${split}`;
  }

  /** History entries (JSON per line): per step and per evaluation. */
  runHistory(runId: string): string {
    return `${this.run(runId)}:history`;
  }

  /** Sorted set of run ids by creation time. */
  runs(): string {
    return `${this.prefix}:runs`;
  }

  /** The newest complete parameter version (decimal text), set with each publish and on resume. */
  paramsVersion(runId: string): string {
    return `${this.run(runId)}:version`;
  }

  /** Parameters of version `v`: one little-endian Float32 blob in the flat layout. */
  params(runId: string, version: number): string {
    return `${this.run(runId)}:params:${version}`;
  }

  /**
   * Parameters of version `v` while reduce jobs write their slices (sliced reduction); the
   * coordinator renames it to params(v) once every slice is in, so readers never see a partial version.
   */
  paramsStaging(runId: string, version: number): string {
    return `${this.run(runId)}:staging:${version}`;
  }

  /**
   * Set of the ids of jobs that wait for parameters `version` in BullMQ's delayed set (parked: a
   * job queued ahead that gave up waiting). Whoever publishes the version takes the set and puts
   * those jobs back in the queue at once, before the next step's jobs (docs/faults.md "Stalls").
   */
  parked(runId: string, version: number): string {
    return `${this.run(runId)}:parked:${version}`;
  }

  /** Summed gradient of shard `shard` at step `step`, followed by its loss and correct count. */
  gradient(runId: string, step: number, shard: number): string {
    return `${this.run(runId)}:grad:${step}:${shard}`;
  }

  /**
   * Optimizer state of one parameter slice before step `step` (sliced reduction): an 8-byte header
   * (updates applied so far, float64 LE) then each slot's values of the slice (float32 LE).
   */
  optState(runId: string, slice: number, step: number): string {
    return `${this.run(runId)}:opt:${slice}:${step}`;
  }

  /**
   * Marker that slice `slice` of step `step` is reduced (text): its partial sum of squares; the
   * last slice's marker adds the step's loss sum, correct count and rows (from the shards' trailers).
   */
  reduced(runId: string, step: number, slice: number): string {
    return `${this.run(runId)}:reduced:${step}:${slice}`;
  }

  /**
   * The engine that computes the run's shards (its name and version, as shard results carry it):
   * claimed by the first result written (SET NX, @nnq/exchange engine-claim.ts); other engines' are refused.
   */
  runEngine(runId: string): string {
    return `${this.run(runId)}:engine`;
  }

  /** Hash: job id -> how often a worker of another engine refused the job (shard.processor.ts). */
  engineRefusals(runId: string): string {
    return `${this.run(runId)}:engine-refusals`;
  }

  /**
   * A replicated step's snapshot of version `version` (what a worker that joins, restarts or fell
   * behind starts from): the parameters (float32 LE, flat layout), then the optimizer state as
   * encodeSliceState writes it (libs/training slices.ts) over all of them.
   */
  replicaSnapshot(runId: string, version: number): string {
    return `${this.run(runId)}:snapshot:${version}`;
  }

  /** The version of the newest replicated-step snapshot (decimal text); set after the snapshot itself. */
  replicaSnapshotVersion(runId: string): string {
    return `${this.run(runId)}:snapshot-version`;
  }

  /**
   * A replicated step's summary of step `step` (float64 LE: loss, accuracy, lr, gradient norm, rows,
   * flags), written by the first replica that applied the step (@nnq/exchange step-summary.ts).
   */
  replicaStep(runId: string, step: number): string {
    return `${this.run(runId)}:replica-step:${step}`;
  }

  /** A second-order run's optimizer config (JSON); its `config` holds a first-order stand-in (parseLocalRunConfig). */
  runSecondOrder(runId: string): string {
    return `${this.run(runId)}:second-order`;
  }

  /** Parameters of pass `pass` of a second-order step (float32 LE, flat layout): a trial point or a curvature point. */
  soParams(runId: string, step: number, pass: number): string {
    return `${this.run(runId)}:so:${step}:${pass}:params`;
  }

  /** The direction v of curvature pass `pass` (float64 LE, flat layout). */
  soVector(runId: string, step: number, pass: number): string {
    return `${this.run(runId)}:so:${step}:${pass}:v`;
  }

  /**
   * A shard's result of a second-order pass: a gradient pass's as gradient() holds it (float32),
   * a curvature pass's G v summed over the shard's rows (float64 LE).
   */
  soResult(runId: string, step: number, pass: number, shard: number): string {
    return `${this.run(runId)}:so:${step}:${pass}:r:${shard}`;
  }

  /** Result of an evaluation shard. */
  evaluation(runId: string, evalId: string, shard: number): string {
    return `${this.run(runId)}:eval:${evalId}:${shard}`;
  }

  /**
   * A checkpoint of the run in Redis (NNQ_RUN_STORE=redis): the bytes of apps/coordinator's
   * checkpoint.ts after `step` steps. Kept while the run is unfinished, the newest few only.
   */
  runCheckpoint(runId: string, step: number): string {
    return `${this.run(runId)}:checkpoint:${step}`;
  }

  /** Sorted set of the steps of the run's stored checkpoints (score = member = step). */
  runCheckpoints(runId: string): string {
    return `${this.run(runId)}:checkpoints`;
  }

  /** The run's model file (safetensors) in Redis (NNQ_RUN_STORE=redis); kept with the run. */
  runModel(runId: string): string {
    return `${this.run(runId)}:model`;
  }

  // ---- pub/sub channels: wake-ups only; readers always decide from the keys themselves ----

  /** Published `<runId>:<version>` when parameters of that version are complete. */
  paramsChannel(): string {
    return `${this.prefix}:ch:params`;
  }

  /** Published with the key of each shard result, evaluation part or reduced-slice marker written. */
  resultsChannel(): string {
    return `${this.prefix}:ch:results`;
  }

  // ---- sweeps: a sweep's keys carry the hash tag `{sweep:<id>}` ----

  /** Sweep record (JSON): config, trials, rung tables; what a restarted coordinator continues from. */
  sweepState(sweepId: string): string {
    return `${this.prefix}:{sweep:${sweepId}}:state`;
  }

  /** Sorted set of sweep ids by creation time. */
  sweeps(): string {
    return `${this.prefix}:sweeps`;
  }

  // ---- datasets (libs/data's registry): named by content hash, shared by every run ----

  /** A dataset's DatasetMeta (JSON), written last: its presence means the dataset is complete. */
  datasetMeta(id: string): string {
    return `${this.prefix}:ds:${id}:meta`;
  }

  /** Bytes of chunk `c` of a dataset: whole rows, x then their targets. */
  datasetChunk(id: string, chunk: number): string {
    return `${this.prefix}:ds:${id}:chunk:${chunk}`;
  }

  /** Set of the ids of the datasets whose meta is written. */
  datasetIds(): string {
    return `${this.prefix}:ds:ids`;
  }
}

/** Ids (runs, workers) as they may appear inside keys and BullMQ job ids: no `:`, no braces. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

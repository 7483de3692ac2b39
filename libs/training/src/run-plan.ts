import { epochPermutation, shardRanges } from '@nnq/data';

/** Positions [start, end) in an epoch's permutation of the train split. */
export interface ShardRange {
  shard: number;
  epoch: number;
  start: number;
  end: number;
}

/**
 * The deterministic schedule of a run: which rows each step and shard holds. Step t of epoch e
 * takes positions [(t mod stepsPerEpoch) * B, + B) of epoch e's seeded permutation of the train
 * split (the last partial batch of an epoch is dropped), cut into S shard ranges.
 */
export class RunPlan {
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  private readonly ranges: Array<[number, number]>;

  constructor(
    readonly trainRows: number,
    readonly batchSize: number,
    readonly shards: number,
    readonly seed: number,
    length: { epochs?: number; steps?: number },
  ) {
    if (batchSize > trainRows) {
      throw new RangeError(`batchSize ${batchSize} exceeds the ${trainRows} rows of the train split`);
    }
    this.stepsPerEpoch = Math.floor(trainRows / batchSize);
    this.totalSteps = length.steps ?? Math.max(1, Math.ceil((length.epochs ?? 1) * this.stepsPerEpoch));
    this.ranges = shardRanges(batchSize, shards);
  }

  epochOf(step: number): number {
    return Math.floor(step / this.stepsPerEpoch);
  }

  /** True when `step` is the last step of its epoch. */
  endsEpoch(step: number): boolean {
    return (step + 1) % this.stepsPerEpoch === 0;
  }

  shardRange(step: number, shard: number): ShardRange {
    const epoch = this.epochOf(step);
    const base = (step % this.stepsPerEpoch) * this.batchSize;
    const [s, e] = this.ranges[shard];
    return { shard, epoch, start: base + s, end: base + e };
  }

  shardsOf(step: number): ShardRange[] {
    return this.ranges.map((_, shard) => this.shardRange(step, shard));
  }
}

/** Epoch permutations, computed once per (epoch) and shared by the shards of a worker. */
export class PermutationCache {
  private readonly perms = new Map<number, Uint32Array>();
  constructor(
    private readonly trainRows: number,
    private readonly seed: number,
    private readonly keep = 2,
  ) {}

  get(epoch: number): Uint32Array {
    let p = this.perms.get(epoch);
    if (!p) {
      p = epochPermutation(this.trainRows, this.seed, epoch);
      this.perms.set(epoch, p);
      while (this.perms.size > this.keep) this.perms.delete(this.perms.keys().next().value as number);
    }
    return p;
  }
}

/** Dataset row indices of positions [start, end) of an epoch: train[perm[p]]. */
export function rowsOf(train: Uint32Array, perm: Uint32Array, start: number, end: number): Uint32Array {
  const out = new Uint32Array(end - start);
  for (let p = start; p < end; p++) out[p - start] = train[perm[p]];
  return out;
}

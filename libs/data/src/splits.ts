import { createRng, permutation } from '@nnq/nn';

/** Row indices of the three splits, each sorted ascending (neighbouring rows share chunks). */
export interface Splits {
  train: Uint32Array;
  validation: Uint32Array;
  test: Uint32Array;
}

export interface SplitOptions {
  /** Fraction of rows for validation, in [0, 1). */
  validation?: number;
  /** Fraction of rows for test, in [0, 1); must be 0 when `officialTest` is given. */
  test?: number;
  seed: number;
  /** Rows [start, end) that are the test split as published (Fashion-MNIST's t10k files). */
  officialTest?: { start: number; end: number };
}

/**
 * Deterministic train / validation / test split: one seeded permutation of the rows, cut into
 * test (first round(test * rows)), validation (next round(validation * rows)) and train (rest).
 * With an official test set, that range is the test split and validation is drawn from the rest.
 */
export function splitIndices(rows: number, options: SplitOptions): Splits {
  const { validation = 0, test = 0, seed, officialTest } = options;
  if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`rows must be a positive integer, got ${rows}`);
  for (const [name, f] of [
    ['validation', validation],
    ['test', test],
  ] as const) {
    if (!(f >= 0 && f < 1)) throw new RangeError(`${name} fraction must be in [0, 1), got ${f}`);
  }
  if (validation + test >= 1) throw new RangeError(`validation + test must be below 1, got ${validation + test}`);

  let pool: Uint32Array;
  let testIdx: Uint32Array;
  if (officialTest) {
    const { start, end } = officialTest;
    if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start < end && end <= rows)) {
      throw new RangeError(`officialTest [${start}, ${end}) is not a range of rows [0, ${rows})`);
    }
    if (test !== 0) throw new RangeError('test fraction must be 0: the dataset has an official test set');
    testIdx = new Uint32Array(end - start).map((_, k) => start + k);
    pool = new Uint32Array(rows - (end - start));
    for (let r = 0, k = 0; r < rows; r++) if (r < start || r >= end) pool[k++] = r;
  } else {
    pool = new Uint32Array(rows).map((_, k) => k);
    testIdx = new Uint32Array(0);
  }
  const order = permutation(pool.length, createRng(seed));
  const shuffled = order.map((k) => pool[k]);
  const nTest = officialTest ? 0 : Math.round(test * rows);
  const nVal = Math.round(validation * (officialTest ? pool.length : rows));
  if (nTest + nVal >= shuffled.length) throw new RangeError('no rows left for the train split');
  const sorted = (a: Uint32Array) => a.sort();
  return {
    test: officialTest ? testIdx : sorted(shuffled.slice(0, nTest)),
    validation: sorted(shuffled.slice(nTest, nTest + nVal)),
    train: sorted(shuffled.slice(nTest + nVal)),
  };
}

/**
 * The seed of epoch `epoch` of a run seeded `seed`: a 128-bit generator state built from both,
 * so distinct (seed, epoch) pairs never share a stream.
 */
export function epochRngState(seed: number, epoch: number): [number, number, number, number] {
  if (!Number.isInteger(epoch) || epoch < 0) throw new RangeError(`epoch must be a non-negative integer, got ${epoch}`);
  const a = createRng(seed).state();
  const b = createRng((epoch ^ 0x6e6e7165) >>> 0).state(); // 'nnqe'
  return [a[0], a[1], (a[2] ^ b[0]) >>> 0, (a[3] ^ b[1]) >>> 0];
}

/**
 * Seeded permutation of 0..trainRows-1 for one epoch: positions into the train split, so the
 * rows of global step s are train[perm[s * batch .. (s + 1) * batch)].
 */
export function epochPermutation(trainRows: number, seed: number, epoch: number): Uint32Array {
  return permutation(trainRows, createRng(epochRngState(seed, epoch)));
}

/** Dataset rows train[perm[start..end)] into out (allocated when absent); no per-row allocation. */
export function batchRows(
  train: Uint32Array,
  perm: Uint32Array,
  start: number,
  end: number,
  out?: Uint32Array,
): Uint32Array {
  if (!(0 <= start && start <= end && end <= perm.length)) {
    throw new RangeError(`batch [${start}, ${end}) is outside the permutation of ${perm.length} rows`);
  }
  const o = out ?? new Uint32Array(end - start);
  if (o.length < end - start) throw new RangeError(`out holds ${o.length} rows, the batch has ${end - start}`);
  for (let k = start; k < end; k++) o[k - start] = train[perm[k]];
  return o;
}

/**
 * Cut a global batch of `globalBatch` rows into `shards` contiguous [start, end) ranges whose
 * sizes differ by at most one, the earlier shards larger (e.g. 10 into 4: 3, 3, 2, 2).
 */
export function shardRanges(globalBatch: number, shards: number): Array<[number, number]> {
  if (!Number.isInteger(globalBatch) || globalBatch < 0) {
    throw new RangeError(`globalBatch must be a non-negative integer, got ${globalBatch}`);
  }
  if (!Number.isInteger(shards) || shards < 1) throw new RangeError(`shards must be a positive integer, got ${shards}`);
  const base = Math.floor(globalBatch / shards);
  const extra = globalBatch % shards;
  const out: Array<[number, number]> = [];
  let start = 0;
  for (let s = 0; s < shards; s++) {
    const end = start + base + (s < extra ? 1 : 0);
    out.push([start, end]);
    start = end;
  }
  return out;
}

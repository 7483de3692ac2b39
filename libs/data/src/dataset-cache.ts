import { KeySchema } from '@nnq/protocol';
import type { Dataset, FeatureArray, LabelArray } from './dataset';
import { DataError } from './errors';
import { datasetHash, sha256 } from './hash';
import { defaultFileAccess, type FileAccess } from './file-access';
import { loadDataset } from './load';
import { gatherChunked, type Batch, type ChunkedRows, type Preprocessing } from './preprocessing';
import { getDatasetMeta, type DatasetMeta, type RedisClient } from './registry';

export interface DatasetCacheOptions {
  /** Upper bound on cached chunk bytes (default 1 GiB); least recently used chunks go first. */
  maxBytes?: number;
  /** Which files `file` datasets may be read from (default: this process's NNQ_DATA_ROOTS). */
  fileAccess?: FileAccess;
}

export interface DatasetCacheStats {
  /** GETs of chunk keys (a chunk is fetched once unless it was evicted). */
  chunkFetches: number;
  chunkHits: number;
  bytesFetched: number;
  bytesCached: number;
  evictions: number;
}

interface Chunk {
  key: string;
  bytes: number;
  x: FeatureArray;
  t: LabelArray | Float32Array;
}

/**
 * A worker's view of the registry: fetches the chunks a batch needs (each once, verified against
 * the sha256 in the meta), keeps them in a bounded LRU by bytes, and gathers batches from them.
 * A batch may need more chunks than fit: they are all held for the gather, then trimmed.
 * `file` datasets are read from their source once, hash-checked, and held whole (outside the bound).
 */
export class DatasetCache {
  private readonly maxBytes: number;
  private readonly metas = new Map<string, DatasetMeta>();
  private readonly chunks = new Map<string, Chunk>(); // insertion order = LRU order
  private readonly inflight = new Map<string, Promise<Chunk>>();
  private readonly files = new Map<string, Promise<Dataset>>();
  private bytes = 0;
  private readonly fileAccess: FileAccess;
  private readonly keys: KeySchema;
  readonly stats: DatasetCacheStats = { chunkFetches: 0, chunkHits: 0, bytesFetched: 0, bytesCached: 0, evictions: 0 };

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    options: DatasetCacheOptions = {},
  ) {
    const maxBytes = options.maxBytes ?? 1 << 30;
    if (!(maxBytes > 0)) throw new RangeError(`maxBytes must be a number greater than 0, got ${maxBytes}`);
    this.maxBytes = maxBytes;
    this.fileAccess = options.fileAccess ?? defaultFileAccess();
    this.keys = new KeySchema(prefix);
  }

  /** The meta of a registered dataset (cached; it never changes for an id). */
  async meta(id: string): Promise<DatasetMeta> {
    let m = this.metas.get(id);
    if (!m) {
      const got = await getDatasetMeta(this.redis, this.prefix, id);
      if (!got) throw new Error(`dataset ${id} is not registered under prefix "${this.prefix}"`);
      if (got.id !== id) throw new Error(`dataset meta under ${id} names id ${got.id}`);
      this.metas.set(id, (m = got));
    }
    return m;
  }

  /**
   * Materialise rows `indices` of dataset `id` as preprocessed float32 X and one-hot / value Y
   * (see gatherBatch), fetching missing chunks first.
   */
  async gatherBatch(
    id: string,
    indices: ArrayLike<number>,
    preprocessing?: Preprocessing,
    outX?: Float32Array,
    outY?: Float32Array,
  ): Promise<Batch> {
    const rows = await this.rows(id, indices);
    return gatherChunked(rows, indices, preprocessing, outX, outY);
  }

  /** Make the chunks of `indices` present and return a chunked view valid until the next call. */
  async rows(id: string, indices: ArrayLike<number>): Promise<ChunkedRows> {
    const meta = await this.meta(id);
    const base = {
      rows: meta.rows,
      features: meta.features,
      targets: { kind: meta.targets.kind, width: meta.targets.width },
    };
    if (meta.storage === 'file') {
      const d = await this.file(meta);
      const one = { x: d.x, t: d.targets.data };
      return { ...base, chunkRows: d.rows, chunk: () => one };
    }
    // which chunks this batch touches
    const need = new Set<number>();
    for (let k = 0; k < indices.length; k++) {
      const r = indices[k];
      if (!(r >= 0 && r < meta.rows && Number.isInteger(r))) {
        throw new RangeError(`row index ${r} at position ${k} is outside [0, ${meta.rows})`);
      }
      need.add(Math.floor(r / meta.chunkRows));
    }
    const held = new Map<number, Chunk>();
    await Promise.all([...need].map(async (c) => held.set(c, await this.chunk(meta, c))));
    this.trim();
    return {
      ...base,
      chunkRows: meta.chunkRows,
      chunk: (c) => {
        const ch = held.get(c);
        if (!ch) throw new RangeError(`chunk ${c} was not fetched for this batch`);
        return ch;
      },
    };
  }

  /** Fetch every chunk and assemble the whole dataset in memory (evaluation, predict). */
  async dataset(id: string): Promise<Dataset> {
    const meta = await this.meta(id);
    if (meta.storage === 'file') return this.file(meta);
    const F = meta.features;
    const x = meta.dtype === 'uint8' ? new Uint8Array(meta.rows * F) : new Float32Array(meta.rows * F);
    const tw = meta.targets.kind === 'labels' ? 1 : meta.targets.width;
    const t = newTargetArray(meta, meta.rows * tw);
    for (let c = 0; c < meta.chunks.length; c++) {
      const ch = await this.chunk(meta, c);
      x.set(ch.x, c * meta.chunkRows * F);
      t.set(ch.t, c * meta.chunkRows * tw);
      this.trim();
    }
    return {
      rows: meta.rows,
      features: F,
      featureShape: meta.featureShape,
      x,
      targets:
        meta.targets.kind === 'labels'
          ? { kind: 'labels', data: t as LabelArray, width: meta.targets.width }
          : { kind: 'values', data: t as Float32Array, width: meta.targets.width },
      task: meta.task,
      ...(meta.classes ? { classes: meta.classes } : {}),
      ...(meta.featureNames ? { featureNames: meta.featureNames } : {}),
      ...(meta.officialTest ? { officialTest: meta.officialTest } : {}),
      source: meta.source,
    };
  }

  /** Drop every cached chunk and dataset. */
  clear(): void {
    this.chunks.clear();
    this.files.clear();
    this.metas.clear();
    this.bytes = 0;
    this.stats.bytesCached = 0;
  }

  private chunk(meta: DatasetMeta, c: number): Promise<Chunk> {
    const key = this.keys.datasetChunk(meta.id, c);
    const hit = this.chunks.get(key);
    if (hit) {
      // most recently used goes to the end
      this.chunks.delete(key);
      this.chunks.set(key, hit);
      this.stats.chunkHits++;
      return Promise.resolve(hit);
    }
    let p = this.inflight.get(key);
    if (!p) {
      p = this.fetch(meta, c, key).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private async fetch(meta: DatasetMeta, c: number, key: string): Promise<Chunk> {
    const info = meta.chunks[c];
    const buf = await this.redis.getBuffer(key);
    this.stats.chunkFetches++;
    if (!buf) throw new DataError(`redis key ${key}`, `chunk ${c} of dataset ${meta.id} is missing`);
    this.stats.bytesFetched += buf.length;
    if (buf.length !== info.bytes || sha256(buf) !== info.sha256) {
      throw new DataError(
        `redis key ${key}`,
        `chunk ${c} of dataset ${meta.id} fails verification ` +
          `(${buf.length} bytes, expected ${info.bytes} with sha256 ${info.sha256})`,
      );
    }
    // copy into a fresh, aligned ArrayBuffer so float32 views are possible
    const own = new Uint8Array(buf.length);
    own.set(buf);
    const F = meta.features;
    const xBytes = info.rows * F * (meta.dtype === 'uint8' ? 1 : 4);
    const x = meta.dtype === 'uint8' ? own.subarray(0, xBytes) : new Float32Array(own.buffer, 0, info.rows * F);
    const tw = meta.targets.kind === 'labels' ? 1 : meta.targets.width;
    const t = newTargetArray(meta, info.rows * tw, own.buffer, xBytes);
    const chunk: Chunk = { key, bytes: own.length, x, t };
    this.chunks.set(key, chunk);
    this.bytes += own.length;
    this.stats.bytesCached = this.bytes;
    return chunk;
  }

  /** Evict least recently used chunks until the cache fits its bound. */
  private trim(): void {
    for (const [key, ch] of this.chunks) {
      if (this.bytes <= this.maxBytes) break;
      this.chunks.delete(key);
      this.bytes -= ch.bytes;
      this.stats.evictions++;
    }
    this.stats.bytesCached = this.bytes;
  }

  private file(meta: DatasetMeta): Promise<Dataset> {
    let p = this.files.get(meta.id);
    if (!p) {
      p = Promise.resolve().then(() => {
        if (meta.source.type === 'upload') throw new Error(`dataset ${meta.id} was uploaded: it has no file`);
        const d = loadDataset(meta.source, this.fileAccess);
        const hash = datasetHash(d);
        if (hash !== meta.id) {
          throw new DataError(
            sourceFile(meta),
            `differs from the registered dataset ${meta.id} (this worker's copy hashes to ${hash}); ` +
              'every worker must read the same file',
          );
        }
        return d;
      });
      p.catch(() => this.files.delete(meta.id));
      this.files.set(meta.id, p);
    }
    return p;
  }
}

function newTargetArray(
  meta: DatasetMeta,
  length: number,
  buffer?: ArrayBuffer,
  offset = 0,
): LabelArray | Float32Array {
  const t = meta.targets;
  const C =
    t.kind === 'values'
      ? Float32Array
      : t.dtype === 'uint8'
        ? Uint8Array
        : t.dtype === 'uint16'
          ? Uint16Array
          : Uint32Array;
  if (!buffer) return new C(length);
  if (offset % C.BYTES_PER_ELEMENT === 0) return new C(buffer, offset, length);
  // targets after an odd-sized x part (uint8 features): copy to aligned memory
  return new C(new Uint8Array(buffer, offset, length * C.BYTES_PER_ELEMENT).slice().buffer);
}

function sourceFile(meta: DatasetMeta): string {
  const s = meta.source;
  switch (s.type) {
    case 'csv':
    case 'json':
      return s.path;
    case 'idx':
      return s.images;
    case 'fashion-mnist':
      return s.dir;
    case 'synthetic':
      return `synthetic:${s.name}`;
    case 'upload':
      return `upload ${s.sha256}`;
  }
}

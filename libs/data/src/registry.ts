import { KeySchema } from '@nnq/protocol';
import type { Cluster, Redis } from 'ioredis';
import type { Dataset } from './dataset';
import { datasetHash, datasetLayout, bytesOf, sha256, type DatasetLayout } from './hash';
import type { FileAccess } from './file-access';
import { absoluteSource, type DatasetSource, type DatasetSourceInput, type UploadSource } from './source';
import { loadDataset } from './load';

/**
 * The cluster's dataset registry in Redis. A dataset is loaded once (by whoever registers it),
 * named by its content hash and stored compactly: features in their own dtype (uint8 stays
 * uint8), cut into chunks of whole rows of about 1 MiB. Its keys are @nnq/protocol's KeySchema's:
 * datasetMeta (JSON DatasetMeta, written last: its presence means "complete"), datasetChunk (rows
 * [c * chunkRows, ...): x rows, then their targets) and datasetIds (the SET of the ids whose meta
 * is written). A dataset stored as `file` has no chunk keys: every worker reads the file from its source path
 * and checks the content hash.
 */

export type RedisClient = Redis | Cluster;

/** Target chunk size; a chunk always holds whole rows (at least one). */
export const CHUNK_BYTES = 1 << 20;

export interface ChunkInfo {
  rows: number;
  bytes: number;
  /** sha256 hex of the chunk's bytes, checked by every worker that fetches it. */
  sha256: string;
}

/** Summary statistics over all rows (preprocessing fits its own on the training split). */
export interface DatasetStatistics {
  min: number;
  max: number;
  /** Per feature, float64 over all rows. */
  mean: number[];
  std: number[];
  /** Rows per class (classification). */
  classCounts?: number[];
}

export interface DatasetMeta extends DatasetLayout {
  /** Content hash: sha256 hex of the canonical bytes (see datasetHash). */
  id: string;
  /** redis: rows in chunk keys; file: every worker reads `source` and checks the hash. */
  storage: 'redis' | 'file';
  featureNames?: string[];
  statistics: DatasetStatistics;
  source: DatasetSource | UploadSource;
  /** Bytes of x plus targets. */
  bytes: number;
  chunkRows: number;
  /** One entry per chunk key (empty for storage `file`). */
  chunks: ChunkInfo[];
  /** Free-form name given at registration (not part of the hash). */
  name?: string;
  registeredAt: string;
}

export interface RegisterOptions {
  /** redis (default): store the rows; file: store only meta and hash, workers read the source. */
  storage?: 'redis' | 'file';
  name?: string;
  /** Override the chunk size (tests); whole rows, at least one per chunk. */
  chunkBytes?: number;
  /** Which files registerSource may read (default: this process's NNQ_DATA_ROOTS). */
  access?: FileAccess;
}

export interface Registered {
  id: string;
  meta: DatasetMeta;
  /** false when a dataset with this id was registered already (nothing was written). */
  created: boolean;
}

/** Bytes of one row: features in their dtype, then the target (label or values). */
export function rowBytes(d: Pick<Dataset, 'x' | 'features' | 'targets'>): { x: number; t: number } {
  const t = d.targets.kind === 'labels' ? d.targets.data.BYTES_PER_ELEMENT : 4 * d.targets.width;
  return { x: d.features * d.x.BYTES_PER_ELEMENT, t };
}

/** The bytes of chunk c: x rows then target rows (copied, so the buffer owns aligned memory). */
export function chunkBytes(d: Dataset, chunkRows: number, c: number): Buffer {
  const start = c * chunkRows;
  const end = Math.min(d.rows, start + chunkRows);
  const xPart = bytesOf(d.x.subarray(start * d.features, end * d.features));
  const tw = d.targets.kind === 'labels' ? 1 : d.targets.width;
  const tPart = bytesOf(d.targets.data.subarray(start * tw, end * tw));
  return Buffer.concat([xPart, tPart]);
}

export function statistics(d: Dataset): DatasetStatistics {
  const F = d.features;
  const sum = new Float64Array(F);
  const sq = new Float64Array(F);
  let min = Infinity;
  let max = -Infinity;
  for (let r = 0; r < d.rows; r++) {
    for (let j = 0; j < F; j++) {
      const v = d.x[r * F + j];
      sum[j] += v;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  const mean = Array.from(sum, (s) => s / d.rows);
  for (let r = 0; r < d.rows; r++) {
    for (let j = 0; j < F; j++) {
      const dev = d.x[r * F + j] - mean[j];
      sq[j] += dev * dev;
    }
  }
  const stats: DatasetStatistics = { min, max, mean, std: Array.from(sq, (s) => Math.sqrt(s / d.rows)) };
  if (d.targets.kind === 'labels') {
    const counts = new Array<number>(d.targets.width).fill(0);
    for (let r = 0; r < d.rows; r++) counts[d.targets.data[r]]++;
    stats.classCounts = counts;
  }
  return stats;
}

/**
 * Register a loaded dataset. Idempotent: when its id exists, nothing is written and the stored
 * meta is returned. Chunks are written first and the meta key last (SET NX), so a dataset whose
 * registration died half-way is never visible as complete.
 */
export async function registerDataset(
  redis: RedisClient,
  prefix: string,
  d: Dataset,
  options: RegisterOptions = {},
): Promise<Registered> {
  const id = datasetHash(d);
  const keys = new KeySchema(prefix);
  const existing = await redis.get(keys.datasetMeta(id));
  if (existing) return { id, meta: JSON.parse(existing) as DatasetMeta, created: false };

  const storage = options.storage ?? 'redis';
  // an upload has no file a worker could read: its rows live in Redis
  if (storage === 'file' && d.source.type === 'upload') throw new Error('an uploaded dataset cannot be stored as file');
  const rb = rowBytes(d);
  const chunkRows = Math.max(1, Math.floor((options.chunkBytes ?? CHUNK_BYTES) / (rb.x + rb.t)));
  const chunks: ChunkInfo[] = [];
  if (storage === 'redis') {
    const nChunks = Math.ceil(d.rows / chunkRows);
    // a few SETs in flight at a time: fast without holding every chunk's copy at once
    const inFlight = 8;
    for (let c0 = 0; c0 < nChunks; c0 += inFlight) {
      const writes: Promise<unknown>[] = [];
      for (let c = c0; c < Math.min(nChunks, c0 + inFlight); c++) {
        const bytes = chunkBytes(d, chunkRows, c);
        chunks.push({ rows: Math.min(chunkRows, d.rows - c * chunkRows), bytes: bytes.length, sha256: sha256(bytes) });
        writes.push(redis.set(keys.datasetChunk(id, c), bytes));
      }
      await Promise.all(writes);
    }
  }
  const meta: DatasetMeta = {
    ...datasetLayout(d),
    id,
    storage,
    ...(d.featureNames ? { featureNames: d.featureNames } : {}),
    statistics: statistics(d),
    source: d.source.type === 'upload' ? d.source : absoluteSource(d.source),
    bytes: d.rows * (rb.x + rb.t),
    chunkRows,
    chunks,
    ...(options.name ? { name: options.name } : {}),
    registeredAt: new Date().toISOString(),
  };
  const ok = await redis.set(keys.datasetMeta(id), JSON.stringify(meta), 'NX');
  if (ok === null) {
    // registered concurrently by another process: same id, same bytes
    const other = await redis.get(keys.datasetMeta(id));
    return { id, meta: JSON.parse(other!) as DatasetMeta, created: false };
  }
  await redis.sadd(keys.datasetIds(), id);
  return { id, meta, created: true };
}

/** Load a source and register it; a refused source (DataError) registers nothing. */
export async function registerSource(
  redis: RedisClient,
  prefix: string,
  source: DatasetSourceInput,
  options: RegisterOptions = {},
): Promise<Registered> {
  return registerDataset(redis, prefix, loadDataset(source, options.access), options);
}

/** The stored meta of a dataset, or null when it is not (completely) registered. */
export async function getDatasetMeta(redis: RedisClient, prefix: string, id: string): Promise<DatasetMeta | null> {
  const json = await redis.get(new KeySchema(prefix).datasetMeta(id));
  return json ? (JSON.parse(json) as DatasetMeta) : null;
}

/** Ids of the registered datasets. */
export async function listDatasets(redis: RedisClient, prefix: string): Promise<string[]> {
  return (await redis.smembers(new KeySchema(prefix).datasetIds())).sort();
}

/** Delete a dataset: meta first (so it stops being complete), then its chunks. */
export async function deleteDataset(redis: RedisClient, prefix: string, id: string): Promise<void> {
  const keys = new KeySchema(prefix);
  const meta = await getDatasetMeta(redis, prefix, id);
  await redis.del(keys.datasetMeta(id));
  await redis.srem(keys.datasetIds(), id);
  if (meta) for (let c = 0; c < meta.chunks.length; c++) await redis.del(keys.datasetChunk(id, c));
}

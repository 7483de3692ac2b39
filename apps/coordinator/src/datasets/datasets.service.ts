import { BadRequestException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { KEYS, REDIS } from '@nnq/cluster';
import {
  DataError,
  SourceError,
  getDatasetMeta,
  listDatasets,
  parseUpload,
  registerDataset,
  uploadDataset,
  type DatasetMeta,
} from '@nnq/data';
import type { DatasetSummary, KeySchema } from '@nnq/protocol';
import type { Redis } from 'ioredis';

const ID = /^[0-9a-f]{64}$/;

/** Datasets registered by upload: parsed like a file source, stored in Redis under their content hash. */
@Injectable()
export class DatasetsService {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(KEYS) private readonly keys: KeySchema,
  ) {}

  /** Parse and register an upload; 400 names every problem (`format: ...`, `content:3:7: ...`). */
  async upload(body: unknown): Promise<DatasetSummary> {
    let registered;
    try {
      const upload = parseUpload(body);
      const dataset = uploadDataset(upload);
      registered = await registerDataset(this.redis, this.keys.prefix, dataset, { name: upload.name });
    } catch (err) {
      if (err instanceof SourceError)
        throw new BadRequestException({ message: 'invalid dataset upload', problems: err.problems });
      if (err instanceof DataError)
        throw new BadRequestException({ message: 'dataset refused', problems: [err.message] });
      throw err;
    }
    return { ...summary(registered.meta), created: registered.created };
  }

  async get(id: string): Promise<DatasetSummary> {
    const meta = ID.test(id) ? await getDatasetMeta(this.redis, this.keys.prefix, id) : null;
    if (!meta) throw new NotFoundException(`no dataset with id ${JSON.stringify(id.slice(0, 80))}`);
    return summary(meta);
  }

  async list(): Promise<DatasetSummary[]> {
    const ids = await listDatasets(this.redis, this.keys.prefix);
    const metas = await Promise.all(ids.map((id) => getDatasetMeta(this.redis, this.keys.prefix, id)));
    return metas.filter((m): m is DatasetMeta => m !== null).map(summary);
  }
}

function summary(m: DatasetMeta): DatasetSummary {
  return {
    id: m.id,
    ...(m.name ? { name: m.name } : {}),
    rows: m.rows,
    features: m.features,
    task: m.task,
    classes: m.classes,
    source: m.source,
    registeredAt: m.registeredAt,
  };
}

import { BadRequestException } from '@nestjs/common';
import type { NnqConfig } from '@nnq/cluster';
import { dataFileAccess, sourceAccessProblems, type DatasetSource, type FileAccess } from '@nnq/data';

/** The files this coordinator may read as dataset sources: NNQ_DATA_ROOTS, NNQ_MAX_DATASET_BYTES. */
export function coordinatorFileAccess(config: NnqConfig): FileAccess {
  return dataFileAccess({
    dataRoots: config.NNQ_DATA_ROOTS,
    dataDir: config.NNQ_DATA_DIR,
    maxBytes: config.NNQ_MAX_DATASET_BYTES,
  });
}

/**
 * Refuse a submitted run's file source before anything reads it: 400 naming
 * `dataset.source.<field>`, the path and the roots, e.g.
 * `dataset.source.path: "/etc/shadow": outside the data roots (NNQ_DATA_ROOTS=/srv/nnq:...)`.
 */
export function checkSourceAccess(source: DatasetSource, access: FileAccess, at = 'dataset.source'): void {
  const problems = sourceAccessProblems(source, access);
  if (problems.length) {
    throw new BadRequestException({
      message: 'dataset refused',
      problems: problems.map((p) => `${at}.${p}`),
    });
  }
}

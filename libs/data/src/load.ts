import { assertDataset, type Dataset } from './dataset';
import { loadCsv } from './csv';
import { loadFashionMnist, loadIdx } from './idx';
import { loadJson } from './json';
import { defaultFileAccess, type FileAccess } from './file-access';
import { absoluteSource, parseSource, type DatasetSource, type DatasetSourceInput } from './source';
import { syntheticDataset } from './synthetic';

/**
 * Load a dataset from its source JSON (validated; relative paths resolved against cwd), reading
 * files only as `access` allows (default: this process's NNQ_DATA_ROOTS, see file-access.ts).
 * Throws SourceError for invalid JSON and DataError, naming file and position, for bad input.
 */
export function loadDataset(
  input: DatasetSourceInput | DatasetSource,
  access: FileAccess = defaultFileAccess(),
): Dataset {
  const source = absoluteSource(parseSource(input));
  let d: Dataset;
  switch (source.type) {
    case 'synthetic':
      d = syntheticDataset(source);
      break;
    case 'csv':
      d = loadCsv(source, access);
      break;
    case 'idx':
      d = loadIdx(source, access);
      break;
    case 'json':
      d = loadJson(source, access);
      break;
    case 'fashion-mnist':
      d = loadFashionMnist(source, access);
      break;
  }
  assertDataset(d);
  return d;
}

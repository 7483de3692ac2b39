import { assertDataset, type Dataset } from './dataset';
import { loadCsv } from './csv';
import { loadFashionMnist, loadIdx } from './idx';
import { loadJson } from './json';
import { absoluteSource, parseSource, type DatasetSource, type DatasetSourceInput } from './source';
import { syntheticDataset } from './synthetic';

/**
 * Load a dataset from its source JSON (validated; relative paths resolved against cwd).
 * Throws SourceError for invalid JSON and DataError, naming file and position, for bad input.
 */
export function loadDataset(input: DatasetSourceInput | DatasetSource): Dataset {
  const source = absoluteSource(parseSource(input));
  let d: Dataset;
  switch (source.type) {
    case 'synthetic':
      d = syntheticDataset(source);
      break;
    case 'csv':
      d = loadCsv(source);
      break;
    case 'idx':
      d = loadIdx(source);
      break;
    case 'json':
      d = loadJson(source);
      break;
    case 'fashion-mnist':
      d = loadFashionMnist(source);
      break;
  }
  assertDataset(d);
  return d;
}

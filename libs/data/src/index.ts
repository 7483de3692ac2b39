/**
 * @nnq/data: dataset sources, preprocessing, splits, epoch permutations, shards, and the
 * cluster's dataset registry in Redis. See libs/data/README.md.
 */
export * from './errors';
export * from './source';
export * from './excerpt';
export * from './file-access';
export * from './dataset';
export { syntheticDataset } from './synthetic';
export { loadCsv, parseCsv, readCsvRecords, type CsvRecord } from './csv';
export {
  FASHION_MNIST_FILES,
  idxDataset,
  loadFashionMnist,
  loadIdx,
  parseIdx,
  readIdx,
  type IdxTensor,
  type IdxType,
} from './idx';
export { loadJson, parseJsonDataset } from './json';
export { jsonReason, jsonSyntaxError } from './json-locate';
export { loadDataset } from './load';
export * from './preprocessing';
export * from './splits';
export { datasetHash, datasetLayout, type DatasetLayout, type TargetLayout } from './hash';
export * from './registry';
export * from './dataset-cache';
export * from './upload';

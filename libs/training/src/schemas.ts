import { datasetSourceJsonSchema } from '@nnq/data';
import { networkSpecJsonSchema } from '@nnq/nn';
import { runConfigJsonSchema } from './run-config';

/** The JSON Schemas published under schemas/, by file name (the sweep config's: @nnq/sweeps). */
export function publishedSchemas(): Record<string, Record<string, unknown>> {
  return {
    'run-config.schema.json': {
      $id: 'https://nnq.dev/schemas/run-config.schema.json',
      title: 'nnq run config',
      ...runConfigJsonSchema(),
    },
    'network-spec.schema.json': {
      $id: 'https://nnq.dev/schemas/network-spec.schema.json',
      title: 'nnq network spec',
      ...networkSpecJsonSchema(),
    },
    'dataset-source.schema.json': {
      $id: 'https://nnq.dev/schemas/dataset-source.schema.json',
      title: 'nnq dataset source',
      ...datasetSourceJsonSchema(),
    },
  };
}

import { sweepConfigJsonSchema } from './sweep-config';

/** The sweep config's JSON Schema published under schemas/, by file name (the rest: @nnq/training's). */
export function publishedSweepSchemas(): Record<string, Record<string, unknown>> {
  return {
    'sweep-config.schema.json': {
      $id: 'https://nnq.dev/schemas/sweep-config.schema.json',
      title: 'nnq sweep config',
      ...sweepConfigJsonSchema(),
    },
  };
}

// Writes schemas/*.json from the zod schemas (npm run schemas).
import { publishedSweepSchemas } from '@nnq/sweeps';
import { publishedSchemas } from '@nnq/training';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

for (const [file, schema] of Object.entries({ ...publishedSchemas(), ...publishedSweepSchemas() })) {
  writeFileSync(join(__dirname, '..', '..', 'schemas', file), `${JSON.stringify(schema, null, 2)}\n`);
  console.log(`wrote schemas/${file}`);
}

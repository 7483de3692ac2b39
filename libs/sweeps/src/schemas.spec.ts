import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { publishedSweepSchemas } from './schemas';

// schemas/sweep-config.schema.json is published for editors and other languages; it must match the zod schema.
describe('published sweep JSON Schema', () => {
  it.each(Object.keys(publishedSweepSchemas()))('schemas/%s is up to date (npm run schemas rewrites it)', (file) => {
    const committed = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'schemas', file), 'utf8'));
    expect(committed).toEqual(publishedSweepSchemas()[file]);
  });
});

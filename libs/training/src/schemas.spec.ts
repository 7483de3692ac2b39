import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { publishedSchemas } from './schemas';

// schemas/*.json are published for editors and other languages; they must match the zod schemas.
describe('published JSON Schemas', () => {
  it.each(Object.keys(publishedSchemas()))('schemas/%s is up to date (npm run schemas rewrites it)', (file) => {
    const committed = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'schemas', file), 'utf8'));
    expect(committed).toEqual(publishedSchemas()[file]);
  });
});

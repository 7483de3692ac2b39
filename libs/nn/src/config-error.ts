import type { z } from 'zod';
import { formatIssues } from './spec';

/** A refused optimizer or schedule config; each problem names its field (`beta1: must be less than 1`). */
export class ConfigError extends Error {
  constructor(
    readonly what: string,
    readonly problems: string[],
  ) {
    super(`invalid ${what}:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Parse json with schema, or throw ConfigError listing every problem by path. */
export function parseConfig<S extends z.ZodType>(schema: S, json: unknown, what: string): z.output<S> {
  const r = schema.safeParse(json);
  if (!r.success) throw new ConfigError(what, formatIssues(r.error.issues));
  return r.data;
}

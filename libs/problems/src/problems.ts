import type { z } from 'zod';

/**
 * A refused input and every problem with it, each naming where it is (`optimizer.lr: must be
 * greater than 0`). The one shape of the project's validation errors: the message is the heading
 * (`invalid run config`) and the problems, one a line; `problems` keeps them for an HTTP 400 body.
 * Subclasses name what they refuse, so a caller can tell them apart (`err instanceof RunConfigError`).
 */
export class ProblemsError extends Error {
  constructor(
    readonly heading: string,
    readonly problems: string[],
  ) {
    super(listProblems(heading, problems));
    this.name = new.target.name;
  }
}

/** `heading:` and then each problem on its own indented line (the message of a ProblemsError). */
export function listProblems(heading: string, problems: readonly string[]): string {
  return `${heading}:\n  ${problems.join('\n  ')}`;
}

/** zod's issues as `path: message` lines: `layers[0].units: ...`, under `root` when given. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], root = ''): string[] {
  return issues.map((issue) => {
    let path = root;
    for (const key of issue.path) {
      path += typeof key === 'number' ? `[${key}]` : path ? `.${String(key)}` : String(key);
    }
    return `${path || '(root)'}: ${issue.message}`;
  });
}

/** Parse json with schema, or throw a ProblemsError (`invalid <what>`) listing every problem by path. */
export function parseConfig<S extends z.ZodType>(schema: S, json: unknown, what: string): z.output<S> {
  const r = schema.safeParse(json);
  if (!r.success) throw new ProblemsError(`invalid ${what}`, formatIssues(r.error.issues));
  return r.data;
}

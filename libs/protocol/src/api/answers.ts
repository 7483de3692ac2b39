import { z } from 'zod';
import { formatJobIssues } from '../jobs';

/**
 * Checks an answer of the coordinator against its contract schema; a mismatch throws naming each
 * field that is wrong. It returns the body itself, not zod's copy, which would drop the fields the
 * schema does not know: a newer coordinator's additions still reach `--json` output (the answer
 * schemas have no defaults or transforms, so the two agree on every field they name).
 */
export function parseAnswer<S extends z.ZodType>(schema: S, body: unknown, request: string): z.output<S> {
  const r = schema.safeParse(body);
  if (r.success) return body as z.output<S>;
  throw new AnswerMismatchError(request, formatJobIssues(r.error.issues));
}

/** `coordinator answered GET /runs/abc with an unexpected body: state: expected one of ...`. */
export class AnswerMismatchError extends Error {
  constructor(
    readonly request: string,
    readonly problems: string[],
  ) {
    super(`coordinator answered ${request} with an unexpected body: ${problems.slice(0, 5).join('; ')}`);
    this.name = 'AnswerMismatchError';
  }
}

/** The JSON Schema of a request body, for OpenAPI (what a client sends: zod's input side). */
export function requestJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

/**
 * The JSON Schema of an answer, for OpenAPI. zod's input side: the answer schemas have no defaults
 * or transforms, so it is the shape the coordinator sends, without the output side's
 * `additionalProperties: false` (a later version may add fields; clients must not refuse them).
 */
export function answerJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

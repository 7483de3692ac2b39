import { jsonReason } from '@nnq/data';
import { formatIssues } from '@nnq/problems';
import { PredictRequestSchema } from '@nnq/protocol';
import { z } from 'zod';
import { CliError, EXIT } from './cli-error';
import { parseJsonText } from './json-text';

/** A row as the HTTP predict endpoint takes it: finite numbers, at least one. */
const RowSchema = PredictRequestSchema.shape.inputs.element;
/** The same request as POST /runs/:id/predict, without the HTTP body's row limit. */
const RequestSchema = z.object({ inputs: z.array(RowSchema).min(1, 'must hold at least one row') }).strict();

/**
 * Rows of a predict input, in one of three forms:
 *   {"inputs": [[...], ...]}     the HTTP request body
 *   [[...], ...]  or  [...]      a bare array of rows, or one row
 *   [...]\n[...]\n               NDJSON: one row per line
 * Throws a usage error naming the source and the path (inputs[3][1], line 4) of every problem.
 */
export function parsePredictInput(text: string, source: string): number[][] {
  const trimmed = text.trim();
  if (!trimmed) throw new CliError(`${source}: no input rows (empty input)`, EXIT.usage);
  const lines = trimmed.split('\n').filter((l) => l.trim());
  if (lines.length > 1 && lines.every((l) => l.trim().startsWith('['))) {
    try {
      JSON.parse(trimmed);
    } catch {
      return parseNdjson(text, source);
    }
  }
  const json = parseJsonText(text, source);
  const body = Array.isArray(json)
    ? { inputs: json.length > 0 && json.every((v) => typeof v === 'number') ? [json] : json }
    : json;
  if (typeof body !== 'object' || body === null) {
    throw new CliError(`${source}: expected {"inputs": [[...], ...]}, an array of rows or NDJSON rows`, EXIT.usage);
  }
  const r = RequestSchema.safeParse(body);
  if (!r.success) throw invalid(source, formatIssues(r.error.issues));
  return r.data.inputs;
}

function parseNdjson(text: string, source: string): number[][] {
  const rows: number[][] = [];
  const problems: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const where = `line ${i + 1}`;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (err) {
      problems.push(`${where}: invalid JSON: ${jsonReason(err as Error)}`);
      return;
    }
    const r = RowSchema.safeParse(json);
    if (r.success) rows.push(r.data);
    else problems.push(...formatIssues(r.error.issues, where));
  });
  if (problems.length) throw invalid(source, problems);
  return rows;
}

function invalid(source: string, problems: string[]): CliError {
  const shown = problems.slice(0, 20);
  if (problems.length > shown.length) shown.push(`... and ${problems.length - shown.length} more`);
  return new CliError(`${source}: invalid predict input:\n  ${shown.join('\n  ')}`, EXIT.usage);
}

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
/** A row an image model may take: numbers, or arrays nested [h][w][c] (checked by `toRow`). */
const AnyRowSchema = z.array(z.unknown()).min(1, 'must not be empty');
const AnyRequestSchema = z.object({ inputs: z.array(AnyRowSchema).min(1, 'must hold at least one row') }).strict();

/** Turns one parsed row into the network's flat row, or throws a RangeError saying why. */
export type ToRow = (row: unknown) => number[];

/**
 * Rows of a predict input, in one of three forms:
 *   {"inputs": [[...], ...]}     the HTTP request body
 *   [[...], ...]  or  [...]      a bare array of rows, or one row
 *   [...]\n[...]\n               NDJSON: one row per line
 * Throws a usage error naming the source and the path (inputs[3][1], line 4) of every problem.
 * With `toRow` (an image model: flattenInputRow) a row may also be nested, and each is passed
 * through it; a row it refuses is named (inputs[3]: has shape [28][27], the model takes ...).
 */
export function parsePredictInput(text: string, source: string, toRow?: ToRow): number[][] {
  const trimmed = text.trim();
  if (!trimmed) throw new CliError(`${source}: no input rows (empty input)`, EXIT.usage);
  const lines = trimmed.split('\n').filter((l) => l.trim());
  if (lines.length > 1 && lines.every((l) => l.trim().startsWith('['))) {
    try {
      JSON.parse(trimmed);
    } catch {
      return parseNdjson(text, source, toRow);
    }
  }
  const json = parseJsonText(text, source);
  // one bare row of numbers, or (image models) one nested image: a row, not a list of rows
  const oneRow = (a: unknown[]) => a.every((v) => typeof v === 'number') || (toRow !== undefined && isImage(a));
  const body = Array.isArray(json) ? { inputs: json.length > 0 && oneRow(json) ? [json] : json } : json;
  if (typeof body !== 'object' || body === null) {
    throw new CliError(`${source}: expected {"inputs": [[...], ...]}, an array of rows or NDJSON rows`, EXIT.usage);
  }
  if (toRow) {
    const any = AnyRequestSchema.safeParse(body);
    if (!any.success) throw invalid(source, formatIssues(any.error.issues));
    return convertRows(any.data.inputs, toRow, source, (i) => `inputs[${i}]`);
  }
  const r = RequestSchema.safeParse(body);
  if (!r.success) throw invalid(source, formatIssues(r.error.issues));
  return r.data.inputs;
}

/** [[[numbers]]]: one image [h][w][c] (a list of images or of flat rows nests differently). */
function isImage(a: unknown[]): boolean {
  const cellOk = (cell: unknown) => Array.isArray(cell) && cell.every((v) => typeof v === 'number');
  return a.length > 0 && a.every((line) => Array.isArray(line) && line.every(cellOk));
}

/** Each row through toRow; every refused row named by `where`. */
function convertRows(rows: unknown[], toRow: ToRow, source: string, where: (i: number) => string): number[][] {
  const problems: string[] = [];
  const out = rows.map((row, i) => {
    try {
      return toRow(row);
    } catch (err) {
      if (!(err instanceof RangeError)) throw err;
      problems.push(`${where(i)}: ${err.message}`);
      return [];
    }
  });
  if (problems.length) throw invalid(source, problems);
  return out;
}

function parseNdjson(text: string, source: string, toRow?: ToRow): number[][] {
  const rows: unknown[] = [];
  const lines: number[] = [];
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
    const r = (toRow ? AnyRowSchema : RowSchema).safeParse(json);
    if (r.success) {
      rows.push(r.data);
      lines.push(i + 1);
    } else {
      problems.push(...formatIssues(r.error.issues, where));
    }
  });
  if (problems.length) throw invalid(source, problems);
  return toRow ? convertRows(rows, toRow, source, (k) => `line ${lines[k]}`) : (rows as number[][]);
}

function invalid(source: string, problems: string[]): CliError {
  const shown = problems.slice(0, 20);
  if (problems.length > shown.length) shown.push(`... and ${problems.length - shown.length} more`);
  return new CliError(`${source}: invalid predict input:\n  ${shown.join('\n  ')}`, EXIT.usage);
}

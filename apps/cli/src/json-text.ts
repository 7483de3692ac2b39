import { jsonSyntaxError } from '@nnq/data';
import { CliError, EXIT } from './cli-error';

/**
 * Parse JSON text; a syntax error becomes `<source>:<line>:<column>: invalid JSON: <reason>`
 * (exit 2), located by libs/data's scanner (the one that locates errors in dataset files).
 */
export function parseJsonText(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const { line, column, reason } = jsonSyntaxError(text, err as Error);
    throw new CliError(`${source}:${line}:${column}: invalid JSON: ${reason}`, EXIT.usage);
  }
}

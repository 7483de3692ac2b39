import { formatIssues, ProblemsError } from '@nnq/problems';

/** Where in a file a problem sits: 1-based line and column of text, or a 0-based byte offset. */
export type DataLocation = { line: number; column?: number } | { byteOffset: number };

/**
 * A refused data source. The message always names the file and, when the problem sits at one
 * place in it, the line and column (text formats) or the byte offset (binary formats), e.g.
 * `train.csv:3:7: non-numeric cell "abc" in column "age"`.
 */
export class DataError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly location?: DataLocation,
  ) {
    super(`${file}${formatLocation(location)}: ${problem}`);
    this.name = 'DataError';
  }
}

function formatLocation(loc: DataLocation | undefined): string {
  if (!loc) return '';
  if ('byteOffset' in loc) return ` at byte ${loc.byteOffset}`;
  return loc.column === undefined ? `:${loc.line}` : `:${loc.line}:${loc.column}`;
}

/**
 * A file the data roots or the file checks refuse: outside the roots, through a symbolic link out
 * of them, in /proc, /sys or /dev, not a regular file, or too large (file-access.ts). Its message
 * names the path and why, never the file's content.
 */
export class DataAccessError extends DataError {
  constructor(file: string, problem: string) {
    super(file, problem);
    this.name = 'DataAccessError';
  }
}

/** An invalid `DatasetSource` (or preprocessing) JSON; `problems` lists `path: message` lines. */
export class SourceError extends ProblemsError {
  constructor(problems: string[], what = 'dataset source') {
    super(`invalid ${what}`, problems);
  }
}

export { formatIssues };

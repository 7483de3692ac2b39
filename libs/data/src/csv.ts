import { DataError } from './errors';
import type { Dataset } from './dataset';
import type { CsvSource } from './source';
import { TableBuilder } from './tabular';
import { defaultFileAccess, readSourceText, type FileAccess } from './file-access';
import { quote, quoteList } from './excerpt';

/** One parsed CSV record: its fields, the line it starts on and each field's 1-based column. */
export interface CsvRecord {
  fields: string[];
  line: number;
  columns: number[];
  /** Column just past the record's last character (for "too few fields" errors). */
  endColumn: number;
}

/**
 * Strict RFC 4180 reader: fields split by `delimiter`, records by LF or CRLF; a field may be
 * quoted with `"`, a quote inside it doubled (`""`), and then it may hold delimiters and line
 * breaks. A quote inside an unquoted field, text after a closing quote and an unterminated quote
 * are refused with line and column. Blank lines are skipped.
 */
export function* readCsvRecords(text: string, file: string, delimiter = ','): Generator<CsvRecord> {
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // byte-order mark
  let line = 1;
  let lineStart = i;
  const D = delimiter.charCodeAt(0);
  const QUOTE = 34;
  const LF = 10;
  const CR = 13;
  while (i < n) {
    const recordLine = line;
    const fields: string[] = [];
    const columns: number[] = [];
    // one record
    for (;;) {
      const column = i - lineStart + 1;
      columns.push(column);
      if (text.charCodeAt(i) === QUOTE) {
        const openLine = line;
        let value = '';
        let j = i + 1;
        for (;;) {
          const q = text.indexOf('"', j);
          if (q < 0) throw new DataError(file, 'unterminated quoted field', { line: openLine, column });
          // count line breaks inside the quoted part, for later positions
          for (let k = j; k < q; k++) {
            if (text.charCodeAt(k) === LF) {
              line++;
              lineStart = k + 1;
            }
          }
          value += text.slice(j, q);
          if (text.charCodeAt(q + 1) === QUOTE) {
            value += '"';
            j = q + 2;
          } else {
            i = q + 1;
            break;
          }
        }
        fields.push(value);
        const c = text.charCodeAt(i);
        if (i < n && c !== D && c !== LF && !(c === CR && text.charCodeAt(i + 1) === LF)) {
          throw new DataError(file, 'unexpected character after a closing quote', {
            line,
            column: i - lineStart + 1,
          });
        }
      } else {
        let j = i;
        while (j < n) {
          const c = text.charCodeAt(j);
          if (c === D || c === LF || (c === CR && text.charCodeAt(j + 1) === LF)) break;
          if (c === QUOTE)
            throw new DataError(file, 'quote inside an unquoted field', { line, column: j - lineStart + 1 });
          j++;
        }
        fields.push(text.slice(i, j));
        i = j;
      }
      // after a field: delimiter, end of record, or end of text
      if (i < n && text.charCodeAt(i) === D) {
        i++;
        continue;
      }
      const endColumn = i - lineStart + 1;
      if (i < n) i += text.charCodeAt(i) === CR ? 2 : 1;
      const blank = fields.length === 1 && fields[0] === '' && columns[0] === endColumn;
      if (!blank) yield { fields, line: recordLine, columns, endColumn };
      line++;
      lineStart = i;
      break;
    }
  }
}

/** Read a CSV source: a header row, numeric feature columns, label column(s) by name. */
export function loadCsv(source: CsvSource, access: FileAccess = defaultFileAccess()): Dataset {
  const file = source.path;
  const text = readSourceText(file, access);
  return parseCsv(text, source);
}

/** Parse CSV text (exposed for tests and for callers holding the text already). */
export function parseCsv(text: string, source: CsvSource): Dataset {
  const file = source.path;
  if (text.trim() === '') throw new DataError(file, 'empty file', { byteOffset: 0 });
  const records = readCsvRecords(text, file, source.delimiter);
  const first = records.next();
  if (first.done) throw new DataError(file, 'empty file', { byteOffset: 0 });
  const header = first.value;
  const names = header.fields.map((f) => f.trim());
  const seen = new Map<string, number>();
  names.forEach((name, k) => {
    const where = { line: header.line, column: header.columns[k] };
    if (name === '') throw new DataError(file, `empty column name in the header (field ${k + 1})`, where);
    if (seen.has(name)) throw new DataError(file, `duplicate column name ${quote(name, 24)} in the header`, where);
    seen.set(name, k);
  });
  for (const label of source.labelColumns) {
    if (!seen.has(label)) {
      throw new DataError(file, `unknown label column ${quote(label, 24)} (the header has: ${quoteList(names)})`, {
        line: header.line,
      });
    }
  }
  const labelIdx = source.labelColumns.map((l) => seen.get(l)!);
  const featureIdx = names.map((_, k) => k).filter((k) => !labelIdx.includes(k));
  const table = new TableBuilder(
    file,
    featureIdx.map((k) => names[k]),
    source.labelColumns,
    source.task,
    source.classes,
  );
  for (const rec of records) {
    if (rec.fields.length !== names.length) {
      const column = rec.fields.length > names.length ? rec.columns[names.length] : rec.endColumn;
      throw new DataError(file, `ragged row: ${rec.fields.length} fields, the header has ${names.length}`, {
        line: rec.line,
        column,
      });
    }
    for (const k of featureIdx) table.feature(rec.fields[k], { line: rec.line, column: rec.columns[k] }, names[k]);
    for (const k of labelIdx) table.target(rec.fields[k], { line: rec.line, column: rec.columns[k] }, names[k]);
    table.endRow();
  }
  return table.build(source);
}

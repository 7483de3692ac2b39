import type { Dataset } from './dataset';
import { DataError, type DataLocation } from './errors';
import { quote, quoteList } from './excerpt';
import { defaultFileAccess, readSourceText, type FileAccess } from './file-access';
import { jsonPathOffset, jsonSyntaxError, lineColumn, type JsonPath } from './json-locate';
import type { JsonSource } from './source';
import { TableBuilder } from './tabular';

/**
 * JSON sources, three forms:
 * - json, records: `[{"a": 1, "b": 2, "label": "cat"}, ...]`: every record has the same keys;
 *   `labelColumns` name the targets, every other key is a numeric feature (in first-record order);
 * - json, arrays: `{"x": [[1, 2], ...], "y": ["cat", ...]}` (regression: `y` numbers or rows);
 * - ndjson: one record object per line (blank lines skipped).
 */
export function loadJson(source: JsonSource, access: FileAccess = defaultFileAccess()): Dataset {
  const text = readSourceText(source.path, access);
  return parseJsonDataset(text, source);
}

type Row = Record<string, unknown>;

export function parseJsonDataset(text: string, source: JsonSource): Dataset {
  const file = source.path;
  if (text.trim() === '') throw new DataError(file, 'empty file', { byteOffset: 0 });
  if (source.format === 'ndjson') return ndjson(text, source);
  const doc = parseOrLocate(text, file, 0);
  const at = (path: JsonPath): DataLocation => lineColumn(text, Math.max(0, jsonPathOffset(text, path)));
  if (Array.isArray(doc)) return records(doc, source, (i, key) => at(key === undefined ? [i] : [i, key]));
  if (isObject(doc) && 'x' in doc) return arrays(doc, source, at);
  throw new DataError(file, 'expected an array of records or an object {"x": [...], "y": [...]}', {
    line: 1,
    column: 1,
  });
}

function ndjson(text: string, source: JsonSource): Dataset {
  const file = source.path;
  const lines = text.split('\n');
  const rows: Row[] = [];
  const lineOf: number[] = [];
  lines.forEach((raw, k) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    const rec = parseOrLocate(line, file, k);
    if (!isObject(rec)) throw new DataError(file, 'each NDJSON line must be a JSON object', { line: k + 1, column: 1 });
    rows.push(rec);
    lineOf.push(k);
  });
  return records(rows, source, (i, key) => {
    const k = lineOf[i];
    if (key === undefined) return { line: k + 1, column: 1 };
    const off = jsonPathOffset(lines[k], [key]);
    return { line: k + 1, column: Math.max(0, off) + 1 };
  });
}

function records(rows: unknown[], source: JsonSource, where: (i: number, key?: string) => DataLocation): Dataset {
  const file = source.path;
  if (rows.length === 0) throw new DataError(file, 'no records', { line: 1, column: 1 });
  const labels = source.labelColumns ?? [];
  if (labels.length === 0) throw new DataError(file, 'records need labelColumns naming their target field(s)');
  const first = rows[0];
  if (!isObject(first)) throw new DataError(file, 'record 0 is not an object', where(0));
  const keys = Object.keys(first);
  for (const l of labels) {
    if (!keys.includes(l)) {
      throw new DataError(file, `unknown label column ${quote(l, 24)} (record 0 has: ${quoteList(keys)})`, where(0));
    }
  }
  const features = keys.filter((k) => !labels.includes(k));
  const table = new TableBuilder(file, features, labels, source.task, source.classes);
  rows.forEach((rec, i) => {
    if (!isObject(rec)) throw new DataError(file, `record ${i} is not an object`, where(i));
    const extra = Object.keys(rec).find((k) => !keys.includes(k));
    if (extra !== undefined)
      throw new DataError(file, `ragged record ${i}: unexpected field ${quote(extra, 24)}`, where(i, extra));
    const missing = keys.find((k) => !(k in rec));
    if (missing !== undefined)
      throw new DataError(file, `ragged record ${i}: missing field ${quote(missing, 24)}`, where(i));
    let key = '';
    try {
      for (key of features) table.feature(rec[key], { line: 0 }, key);
      for (key of labels) table.target(rec[key], { line: 0 }, key);
    } catch (e) {
      // re-locate: the cell's position is only worked out when something is wrong
      if (e instanceof DataError) throw new DataError(file, `record ${i}: ${e.problem}`, where(i, key));
      throw e;
    }
    table.endRow();
  });
  return table.build(source);
}

function arrays(doc: Row, source: JsonSource, at: (path: JsonPath) => DataLocation): Dataset {
  const file = source.path;
  const { x, y } = doc;
  if (!Array.isArray(x) || x.length === 0)
    throw new DataError(file, '"x" must be a non-empty array of rows', at(['x']));
  if (!Array.isArray(y))
    throw new DataError(file, '"y" must be an array with one target per row', at(y === undefined ? [] : ['y']));
  if (y.length !== x.length) {
    throw new DataError(file, `"x" has ${x.length} rows but "y" has ${y.length} targets: the counts differ`, at(['y']));
  }
  const width = Array.isArray(x[0]) ? x[0].length : -1;
  if (width < 1) throw new DataError(file, '"x" rows must be non-empty arrays of numbers', at(['x', 0]));
  const yWidth = Array.isArray(y[0]) ? y[0].length : 1;
  const targetNames =
    source.task === 'regression' && yWidth > 1 ? Array.from({ length: yWidth }, (_, j) => `y${j}`) : ['y'];
  const names = Array.from({ length: width }, (_, j) => `x${j}`);
  const table = new TableBuilder(file, names, source.labelColumns ?? targetNames, source.task, source.classes);
  for (let i = 0; i < x.length; i++) {
    const row = x[i] as unknown;
    if (!Array.isArray(row) || row.length !== width) {
      const len = Array.isArray(row) ? `${row.length} values` : 'not an array';
      throw new DataError(file, `ragged row ${i} of "x": ${len}, row 0 has ${width}`, at(['x', i]));
    }
    let path: JsonPath = [];
    try {
      for (let j = 0; j < width; j++) {
        path = ['x', i, j];
        table.feature(row[j], { line: 0 }, names[j]);
      }
      const t = y[i] as unknown;
      if (source.task === 'regression' && yWidth > 1) {
        if (!Array.isArray(t) || t.length !== yWidth) {
          throw new DataError(file, `ragged target ${i}: expected ${yWidth} values`, at(['y', i]));
        }
        for (let j = 0; j < yWidth; j++) {
          path = ['y', i, j];
          table.target(t[j], { line: 0 }, targetNames[j]);
        }
      } else {
        path = ['y', i];
        table.target(t, { line: 0 }, 'y');
      }
    } catch (e) {
      if (e instanceof DataError && e.file === file && e.location && 'line' in e.location && e.location.line === 0) {
        throw new DataError(file, e.problem, at(path));
      }
      throw e;
    }
    table.endRow();
  }
  return table.build(source);
}

function parseOrLocate(text: string, file: string, lineIndex: number): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const { line, column, reason } = jsonSyntaxError(text, e as Error);
    throw new DataError(file, `invalid JSON: ${reason}`, { line: line + lineIndex, column });
  }
}

function isObject(v: unknown): v is Row {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

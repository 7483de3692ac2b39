import { DataError, type DataLocation } from './errors';
import { allocLabels, type Task } from './dataset';
import { quote } from './excerpt';
import type { Dataset } from './dataset';

/**
 * Shared by CSV and JSON: turn string / number cells into float32 features and targets, refusing
 * anything that is not a finite number with the file and the cell's location.
 */

const DECIMAL = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;
const NON_FINITE = /^\s*[+-]?(nan|inf|infinity)\s*$/i;

/** Parse one numeric cell; throws DataError naming the file, location and column. */
export function parseCell(cell: unknown, file: string, where: DataLocation, column: string): number {
  let v: number;
  if (typeof cell === 'number') {
    v = cell;
  } else if (typeof cell === 'string') {
    if (cell.trim() === '') throw new DataError(file, `empty cell in column ${quote(column, 24)}`, where);
    if (NON_FINITE.test(cell))
      throw new DataError(file, `NaN or infinite value ${quote(cell)} in column ${quote(column, 24)}`, where);
    if (!DECIMAL.test(cell))
      throw new DataError(file, `non-numeric cell ${quote(cell)} in column ${quote(column, 24)}`, where);
    v = Number(cell);
  } else {
    throw new DataError(file, `non-numeric value ${nonString(cell)} in column ${quote(column, 24)}`, where);
  }
  if (!Number.isFinite(v))
    throw new DataError(file, `NaN or infinite value ${v} in column ${quote(column, 24)}`, where);
  if (!Number.isFinite(Math.fround(v))) {
    throw new DataError(file, `value ${v} in column ${quote(column, 24)} is out of float32 range`, where);
  }
  return v;
}

/** A JSON value that is not a string or number: null and booleans as written, else its kind. */
function nonString(cell: unknown): string {
  if (cell === null || typeof cell === 'boolean') return String(cell);
  return Array.isArray(cell) ? '(an array)' : `(${typeof cell === 'object' ? 'an object' : typeof cell})`;
}

/** Collects rows of a table (features + targets), then builds a Dataset. */
export class TableBuilder {
  private readonly x: number[] = [];
  private readonly values: number[] = [];
  private readonly labels: string[] = [];
  private rows = 0;

  constructor(
    readonly file: string,
    readonly featureNames: string[],
    readonly labelColumns: string[],
    readonly task: Task,
    readonly classes: string[] | undefined,
  ) {
    if (featureNames.length === 0) throw new DataError(file, 'no feature columns (every column is a label column)');
    if (task === 'classification' && labelColumns.length !== 1) {
      throw new DataError(
        file,
        `classification takes exactly one label column, got ${labelColumns.length} (${labelColumns.join(', ')})`,
      );
    }
  }

  feature(cell: unknown, where: DataLocation, column: string): void {
    this.x.push(parseCell(cell, this.file, where, column));
  }

  target(cell: unknown, where: DataLocation, column: string): void {
    if (this.task === 'regression') {
      this.values.push(parseCell(cell, this.file, where, column));
      return;
    }
    if (typeof cell === 'number' && !Number.isFinite(cell)) {
      throw new DataError(this.file, `NaN or infinite label in column ${quote(column, 24)}`, where);
    }
    if (typeof cell !== 'string' && typeof cell !== 'number' && typeof cell !== 'boolean') {
      throw new DataError(this.file, `label in column ${quote(column, 24)} must be a string or number`, where);
    }
    const label = String(cell);
    if (label.trim() === '') throw new DataError(this.file, `empty label in column ${quote(column, 24)}`, where);
    if (this.classes && !this.classes.includes(label)) {
      throw new DataError(
        this.file,
        `label ${quote(label)} in column ${quote(column, 24)} is not one of the classes [${this.classes.join(', ')}]`,
        where,
      );
    }
    this.labels.push(label);
  }

  endRow(): void {
    this.rows++;
  }

  build(source: Dataset['source']): Dataset {
    if (this.rows === 0) throw new DataError(this.file, 'no data rows');
    const features = this.featureNames.length;
    const base = {
      rows: this.rows,
      features,
      featureShape: [features],
      featureNames: this.featureNames,
      x: Float32Array.from(this.x),
      source,
    };
    if (this.task === 'regression') {
      const width = this.labelColumns.length;
      return { ...base, task: 'regression', targets: { kind: 'values', data: Float32Array.from(this.values), width } };
    }
    const classes = this.classes ?? sortClasses(new Set(this.labels));
    const index = new Map(classes.map((c, i) => [c, i]));
    const data = allocLabels(this.rows, classes.length);
    for (let i = 0; i < this.rows; i++) data[i] = index.get(this.labels[i])!;
    return { ...base, task: 'classification', classes, targets: { kind: 'labels', data, width: classes.length } };
  }
}

/** Class order: numeric when every class name is a number, else by UTF-16 code units. */
export function sortClasses(names: Iterable<string>): string[] {
  const list = [...names];
  if (list.every((c) => DECIMAL.test(c))) return list.sort((a, b) => Number(a) - Number(b));
  return list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCsvRecords } from './csv';
import { DataError } from './errors';
import { dataFileAccess } from './file-access';
import { loadDataset as loadFrom } from './load';
import type { DatasetSourceInput } from './source';

const dir = mkdtempSync(join(tmpdir(), 'nnq-csv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// the temp dir is this test's data root
const loadDataset = (s: DatasetSourceInput) => loadFrom(s, dataFileAccess({ dataRoots: dir }));

function csv(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const load = (path: string, extra: Record<string, unknown> = {}) =>
  loadDataset({ type: 'csv', path, labelColumns: ['label'], task: 'classification', ...extra });

describe('CSV reader', () => {
  it('reads RFC 4180 quoting', () => {
    const recs = [...readCsvRecords('a,"b,c"\r\n"say ""hi""","two\nlines"\n\n3,4\n', 'x.csv')];
    expect(recs.map((r) => r.fields)).toEqual([
      ['a', 'b,c'],
      ['say "hi"', 'two\nlines'],
      ['3', '4'],
    ]);
    expect(recs.map((r) => r.line)).toEqual([1, 2, 5]);
    expect(recs[2].columns).toEqual([1, 3]);
  });

  it('loads a classification table, one-hot classes recorded', () => {
    const path = csv('iris.csv', 'sepal,petal,label\n1.5,2,setosa\n3,-4e-1,virginica\n0.5,.25,setosa\n');
    const d = load(path);
    expect(d).toMatchObject({ rows: 3, features: 2, task: 'classification', classes: ['setosa', 'virginica'] });
    expect(d.featureNames).toEqual(['sepal', 'petal']);
    expect(Array.from(d.x)).toEqual([1.5, 2, 3, Math.fround(-0.4), 0.5, 0.25]);
    expect(Array.from(d.targets.data)).toEqual([0, 1, 0]);
  });

  it('sorts numeric class names numerically and honours a given class list', () => {
    const path = csv('num.csv', 'x,label\n1,10\n2,9\n3,2\n');
    expect(load(path).classes).toEqual(['2', '9', '10']);
    expect(load(path, { classes: ['10', '9', '2', '7'] }).targets.data[0]).toBe(0);
  });

  it('reads regression targets by name with a delimiter', () => {
    const path = csv('reg.tsv', 'y1\ta\ty2\tb\n0.5\t1\t2\t3\n1.5\t4\t5\t6\n');
    const d = loadDataset({ type: 'csv', path, delimiter: '\t', labelColumns: ['y2', 'y1'], task: 'regression' });
    expect(d.featureNames).toEqual(['a', 'b']);
    expect(d.targets).toMatchObject({ kind: 'values', width: 2 });
    expect(Array.from(d.targets.data)).toEqual([2, 0.5, 5, 1.5]);
  });

  describe('refuses bad input naming file, line and column', () => {
    const cases: Array<[string, string, RegExp, Record<string, unknown>?]> = [
      ['empty file', '', /empty\.csv at byte 0: empty file/],
      ['blank file', '\n\n', /empty file/],
      ['header only', 'a,label\n', /no data rows/],
      ['ragged row (too many)', 'a,label\n1,x\n2,y,9\n', /ragged\.csv:3:5: ragged row: 3 fields, the header has 2/],
      ['ragged row (too few)', 'a,b,label\n1,2,x\n3,y\n', /:3:4: ragged row: 2 fields, the header has 3/],
      ['non-numeric cell', 'a,b,label\n1,2,x\n3,abc,y\n', /:3:3: non-numeric cell "abc" in column "b"/],
      ['NaN', 'a,label\n1,x\nNaN,y\n', /:3:1: NaN or infinite value "NaN" in column "a"/],
      ['infinity', 'a,label\n1,x\n-Infinity,y\n', /:3:1: NaN or infinite value "-Infinity"/],
      ['float32 overflow', 'a,label\n1e39,x\n', /:2:1: value 1e\+39 in column "a" is out of float32 range/],
      ['empty cell', 'a,b,label\n1,,x\n', /:2:3: empty cell in column "b"/],
      [
        'unknown label column',
        'a,b,klass\n1,2,x\n',
        /:1: unknown label column "label" \(the header has: a, b, klass\)/,
      ],
      ['unterminated quote', 'a,label\n1,"x\n', /:2:3: unterminated quoted field/],
      ['quote in unquoted field', 'a,label\n1,x"y\n', /:2:4: quote inside an unquoted field/],
      ['text after closing quote', 'a,label\n1,"x"y\n', /:2:6: unexpected character after a closing quote/],
      ['duplicate column', 'a,a,label\n1,2,x\n', /:1:3: duplicate column name "a"/],
      [
        'unknown class',
        'a,label\n1,cat\n',
        /:2:3: label "cat" in column "label" is not one of the classes \[dog\]/,
        { classes: ['dog'] },
      ],
      [
        'regression label not a number',
        'a,label\n1,cat\n',
        /:2:3: non-numeric cell "cat" in column "label"/,
        { task: 'regression' },
      ],
      [
        'two classification labels',
        'a,b,label\n1,2,3\n',
        /classification takes exactly one label column/,
        { labelColumns: ['b', 'label'] },
      ],
    ];
    for (const [name, text, message, extra] of cases) {
      it(name, () => {
        const file =
          name === 'empty file'
            ? 'empty.csv'
            : name.startsWith('ragged row (too many')
              ? 'ragged.csv'
              : `${name.replace(/\W+/g, '-')}.csv`;
        const path = csv(file, text);
        const run = () => load(path, extra);
        expect(run).toThrow(DataError);
        expect(run).toThrow(message);
        expect(run).toThrow(path);
      });
    }
    it('missing file', () => {
      expect(() => load(join(dir, 'nope.csv'))).toThrow(/nope\.csv: cannot read: no such file/);
    });
  });
});

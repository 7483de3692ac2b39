import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError } from './errors';
import { jsonPathOffset, jsonSyntaxErrorOffset } from './json-locate';
import { dataFileAccess } from './file-access';
import { loadDataset as loadFrom } from './load';
import type { DatasetSourceInput } from './source';

const dir = mkdtempSync(join(tmpdir(), 'nnq-json-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// the temp dir is this test's data root
const loadDataset = (s: DatasetSourceInput) => loadFrom(s, dataFileAccess({ dataRoots: dir }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('JSON locator', () => {
  it('finds syntax errors and paths', () => {
    expect(jsonSyntaxErrorOffset('{"a": [1, 2,]}')).toBe(12);
    expect(jsonSyntaxErrorOffset('[1, 2] x')).toBe(7);
    expect(jsonSyntaxErrorOffset(' {"a": "\\u00e9"} ')).toBe(-1);
    expect(jsonPathOffset('{"x": [[1, 2], [3, 4]]}', ['x', 1, 1])).toBe(19);
  });
});

describe('JSON / NDJSON sources', () => {
  it('reads an array of records', () => {
    const path = file('r.json', '[{"a": 1, "b": 2, "label": "cat"}, {"a": 3, "b": 4, "label": "dog"}]');
    const d = loadDataset({ type: 'json', path, labelColumns: ['label'], task: 'classification' });
    expect(d).toMatchObject({ rows: 2, features: 2, classes: ['cat', 'dog'], featureNames: ['a', 'b'] });
    expect(Array.from(d.x)).toEqual([1, 2, 3, 4]);
  });

  it('reads {x, y} arrays', () => {
    const path = file('xy.json', '{"x": [[1, 2], [3, 4]], "y": [[0.5, 1], [2, 3]]}');
    const d = loadDataset({ type: 'json', path, task: 'regression' });
    expect(d.targets).toMatchObject({ kind: 'values', width: 2 });
    expect(Array.from(d.targets.data)).toEqual([0.5, 1, 2, 3]);
    const c = loadDataset({
      type: 'json',
      path: file('xyc.json', '{"x": [[1], [2]], "y": [1, 0]}'),
      task: 'classification',
    });
    expect(Array.from(c.targets.data)).toEqual([1, 0]);
  });

  it('reads NDJSON', () => {
    const path = file('r.ndjson', '{"a": 1, "y": 0.5}\n\n{"a": 2, "y": 1.5}\r\n');
    const d = loadDataset({ type: 'json', format: 'ndjson', path, labelColumns: ['y'], task: 'regression' });
    expect(Array.from(d.targets.data)).toEqual([0.5, 1.5]);
  });

  describe('refuses bad input naming file, line and column', () => {
    const cases: Array<[string, string, 'json' | 'ndjson', RegExp]> = [
      ['empty', '  \n', 'json', /at byte 0: empty file/],
      ['syntax', '[\n {"a": 1,, "y": 1}]', 'json', /:2:10: invalid JSON/],
      ['ndjson syntax', '{"a": 1, "y": 1}\n{"a": 2 "y": 1}\n', 'ndjson', /:2:9: invalid JSON/],
      [
        'non-numeric',
        '[{"a": 1, "y": 1},\n {"a": "abc", "y": 2}]',
        'json',
        /:2:8: record 1: non-numeric cell "abc" in column "a"/,
      ],
      ['null', '[{"a": null, "y": 1}]', 'json', /:1:8: record 0: non-numeric value null in column "a"/],
      ['infinite', '[{"a": 1e999, "y": 1}]', 'json', /:1:8: record 0: NaN or infinite value Infinity in column "a"/],
      [
        'ragged records',
        '[{"a": 1, "y": 1},\n {"a": 1, "b": 2, "y": 1}]',
        'json',
        /:2:16: ragged record 1: unexpected field "b"/,
      ],
      ['missing field', '{"a": 1, "y": 1}\n{"y": 1}', 'ndjson', /:2:1: ragged record 1: missing field "a"/],
      [
        'unknown label',
        '[{"a": 1, "target": 1}]',
        'json',
        /:1:2: unknown label column "y" \(record 0 has: a, target\)/,
      ],
      [
        'ndjson non-numeric',
        '{"a": 1, "y": 1}\n{"a": 1, "y": "x"}',
        'ndjson',
        /:2:15: record 1: non-numeric cell "x" in column "y"/,
      ],
      ['no records', '[]', 'json', /:1:1: no records/],
    ];
    for (const [name, text, format, message] of cases) {
      it(name, () => {
        const path = file(`${name.replace(/\W+/g, '-')}.${format}`, text);
        const run = () => loadDataset({ type: 'json', format, path, labelColumns: ['y'], task: 'regression' });
        expect(run).toThrow(DataError);
        expect(run).toThrow(message);
        expect(run).toThrow(path);
      });
    }

    it('ragged {x, y} arrays and differing counts', () => {
      const ragged = file('ragged-xy.json', '{"x": [[1, 2],\n  [3]], "y": [1, 2]}');
      expect(() => loadDataset({ type: 'json', path: ragged, task: 'regression' })).toThrow(
        /ragged-xy\.json:2:3: ragged row 1 of "x": 1 values, row 0 has 2/,
      );
      const counts = file('counts-xy.json', '{"x": [[1], [2]], "y": [1]}');
      expect(() => loadDataset({ type: 'json', path: counts, task: 'regression' })).toThrow(
        /counts-xy\.json:1:24: "x" has 2 rows but "y" has 1 targets/,
      );
      const nan = file('nan-xy.json', '{"x": [[1], ["NaN"]], "y": [1, 2]}');
      expect(() => loadDataset({ type: 'json', path: nan, task: 'regression' })).toThrow(
        /nan-xy\.json:1:14: NaN or infinite value "NaN" in column "x0"/,
      );
    });
  });
});

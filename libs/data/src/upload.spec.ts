import { describe, expect, it } from 'vitest';
import { DataError, SourceError } from './errors';
import { datasetHash } from './hash';
import { parseCsv } from './csv';
import { parseUpload, uploadDataset } from './upload';

const text = 'x1,x2,y\n0,0,a\n1,1,b\n0,1,b\n';

describe('dataset upload', () => {
  it('parses CSV text into the same rows (and id) as the file would give', () => {
    const d = uploadDataset(parseUpload({ format: 'csv', content: text, labelColumns: ['y'] }));
    expect(d).toMatchObject({ rows: 3, features: 2, classes: ['a', 'b'], task: 'classification' });
    expect(d.source).toMatchObject({ type: 'upload', format: 'csv', bytes: text.length });
    const fromFile = parseCsv(text, {
      type: 'csv',
      path: 'f.csv',
      delimiter: ',',
      labelColumns: ['y'],
      task: 'classification',
    });
    expect(datasetHash(d)).toBe(datasetHash(fromFile));
  });

  it('parses NDJSON and {x, y} JSON', () => {
    const nd = uploadDataset(
      parseUpload({
        format: 'ndjson',
        content: '{"a":1,"t":2}\n{"a":2,"t":4}\n',
        labelColumns: ['t'],
        task: 'regression',
      }),
    );
    expect(nd).toMatchObject({ rows: 2, task: 'regression' });
    const xy = uploadDataset(parseUpload({ format: 'json', content: '{"x":[[1],[2]],"y":["p","q"]}' }));
    expect(xy.classes).toEqual(['p', 'q']);
  });

  it('refuses a bad request by path', () => {
    expect(() => parseUpload({ format: 'csv', content: text })).toThrow(SourceError);
    expect(() => parseUpload({ format: 'csv', content: text })).toThrow(
      /labelColumns: csv needs the label column\(s\) by header name/,
    );
    expect(() => parseUpload({ format: 'xml', content: 'x', labelColumns: ['y'] })).toThrow(
      /^invalid dataset upload:\n {2}format: /,
    );
    expect(() => parseUpload({ format: 'json', content: '', path: '/etc/shadow' })).toThrow(
      /content: must not be empty/,
    );
    expect(() => parseUpload({ format: 'json', content: '[]', path: '/etc/shadow' })).toThrow(
      /Unrecognized key.*"path"/,
    );
  });

  it('names a bad cell as content:line:column, quoting a short escaped excerpt', () => {
    const bad = `x1,x2,y\n0,0,a\n1,${'\u0007'.repeat(3)}${'z'.repeat(80)},b\n`;
    const run = () => uploadDataset(parseUpload({ format: 'csv', content: bad, labelColumns: ['y'] }));
    expect(run).toThrow(DataError);
    expect(run).toThrow(/^content:3:3: non-numeric cell "\\u0007\\u0007\\u0007z{34}\.\.\." in column "x2"$/);
  });
});

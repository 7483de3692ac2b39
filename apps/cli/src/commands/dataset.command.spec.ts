import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { uploadBody } from './dataset.command';

const dir = mkdtempSync(join(tmpdir(), 'nnq-dataset-cmd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

describe('nnq dataset add', () => {
  it('builds the upload from the file: format by extension, tab for .tsv', () => {
    const tsv = file('d.tsv', 'a\ty\n1\tx\n2\tz\n');
    expect(uploadBody(tsv, { label: ['y'], task: 'classification' })).toEqual({
      format: 'csv',
      content: 'a\ty\n1\tx\n2\tz\n',
      task: 'classification',
      labelColumns: ['y'],
      delimiter: '\t',
    });
    const nd = file('d.jsonl', '{"a": 1, "y": 2}\n');
    expect(uploadBody(nd, { label: ['y'], task: 'regression', name: 'n' })).toMatchObject({
      format: 'ndjson',
      name: 'n',
    });
  });

  it('checks the file here, naming it and its line', () => {
    const bad = file('bad.csv', 'a,y\n1,x\nzz,y\n');
    expect(() => uploadBody(bad, { label: ['y'], task: 'classification' })).toThrow(
      new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:1: non-numeric cell "zz" in column "a"$`),
    );
    expect(() => uploadBody(bad, { task: 'classification' })).toThrow(
      /bad\.csv: --label: csv needs the label column\(s\) by header name$/,
    );
    expect(() => uploadBody(file('d.txt', 'a'), { task: 'classification' })).toThrow(
      /d\.txt: cannot tell the format from the extension; give --format csv, json or ndjson$/,
    );
    expect(() => uploadBody(join(dir, 'missing.csv'), { task: 'classification' })).toThrow(
      /missing\.csv: cannot read: no such file$/,
    );
  });
});

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { DataAccessError, DataError } from './errors';
import { quote } from './excerpt';
import { dataFileAccess, parseDataRoots, readSourceFile, sourceAccessProblems, unconfinedAccess } from './file-access';
import { readIdx } from './idx';
import { loadDataset } from './load';

const base = mkdtempSync(join(tmpdir(), 'nnq-access-'));
const root = join(base, 'root');
const outside = join(base, 'outside');
mkdirSync(root);
mkdirSync(outside);
afterAll(() => rmSync(base, { recursive: true, force: true }));

const SECRET = 'MARKER-SECRET-7f3a9c';
const secretFile = join(outside, 'secret.csv');
writeFileSync(secretFile, `${SECRET},label\n${SECRET},x\n`);
writeFileSync(join(root, 'ok.csv'), 'a,label\n1,x\n2,y\n');
const access = dataFileAccess({ dataRoots: root });
const rootsPattern = root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The DataError `f` throws (fails the test when it throws none). */
function refusal(f: () => unknown): DataError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(DataError);
    return err as DataError;
  }
  throw new Error('expected a DataError');
}

const csv = (path: string) => ({
  type: 'csv' as const,
  path,
  delimiter: ',',
  labelColumns: ['label'],
  task: 'classification' as const,
});

describe('data roots', () => {
  it('NNQ_DATA_ROOTS is `:`-separated; unset, the data dir and the Fashion-MNIST dir', () => {
    expect(parseDataRoots('/a:b::/c/', '.nnq', '/w')).toEqual(['/a', '/w/b', '/c']);
    expect(parseDataRoots(undefined, 'data', '/w')).toEqual(['/w/data', '/usr/share/datasets/fashion-mnist']);
    expect(parseDataRoots('  ', '/d', '/w')).toEqual(['/d', '/usr/share/datasets/fashion-mnist']);
  });

  it('reads a file inside a root', () => {
    expect(loadDataset(csv(join(root, 'ok.csv')), access).rows).toBe(2);
  });

  it.each([
    ['a path outside the roots', secretFile],
    ['a path with ..', join(root, '..', 'outside', 'secret.csv')],
    ['a relative path with ..', relative(process.cwd(), secretFile)],
    ['/etc/hostname', '/etc/hostname'],
    ['/proc/self/environ', '/proc/self/environ'],
  ])('refuses %s, naming the path and the roots and nothing of the file', (_, path) => {
    const e = refusal(() => loadDataset(csv(path), access));
    expect(e).toBeInstanceOf(DataAccessError);
    expect(e.message).toMatch(new RegExp(`: outside the data roots \\(NNQ_DATA_ROOTS=${rootsPattern}\\)$`));
    expect(e.message).not.toContain(SECRET);
    expect(sourceAccessProblems(csv(path), access)[0]).toMatch(
      new RegExp(`^path: ".*"( \\(".*"\\))?: outside the data roots \\(NNQ_DATA_ROOTS=${rootsPattern}\\)$`),
    );
  });

  it('names a relative path as given and as resolved', () => {
    const given = relative(process.cwd(), secretFile);
    expect(sourceAccessProblems(csv(given), access)).toEqual([
      `path: ${quote(given, 200)} (${quote(secretFile, 200)}): outside the data roots (NNQ_DATA_ROOTS=${root})`,
    ]);
  });

  it('refuses a symbolic link out of a root, after resolving it', () => {
    symlinkSync(secretFile, join(root, 'link.csv'));
    symlinkSync(outside, join(root, 'linkdir'));
    for (const path of [join(root, 'link.csv'), join(root, 'linkdir', 'secret.csv')]) {
      const e = refusal(() => readSourceFile(path, access));
      expect(e.message).toBe(`${path}: a symbolic link leads outside the data roots (NNQ_DATA_ROOTS=${root})`);
      expect(sourceAccessProblems(csv(path), access)).toHaveLength(1);
    }
  });

  it.each(['/proc/self/environ', '/dev/zero', '/sys/kernel/mm/transparent_hugepage/enabled'])(
    'refuses %s even when / is a root',
    (path) => {
      const everything = dataFileAccess({ dataRoots: '/' });
      const e = refusal(() => readSourceFile(path, everything));
      expect(e.message).toMatch(/: in \/(proc|dev|sys), a special file system: only regular files are read$/);
      expect(refusal(() => readSourceFile(path, unconfinedAccess())).problem).toMatch(/special file system/);
    },
  );

  it('refuses a named pipe at once (opened without blocking) and a directory', () => {
    const fifo = join(root, 'pipe.csv');
    execFileSync('mkfifo', [fifo]);
    // no writer: a blocking open would hang here for good
    expect(refusal(() => readSourceFile(fifo, access)).message).toBe(
      `${fifo}: cannot read: not a regular file (a named pipe)`,
    );
    expect(sourceAccessProblems(csv(fifo), access)).toEqual([
      `path: ${quote(fifo, 200)}: cannot read: not a regular file (a named pipe)`,
    ]);
    expect(refusal(() => readSourceFile(root, access)).message).toBe(`${root}: cannot read: is a directory`);
  });

  it('leaves a missing file to the loader, which says so', () => {
    const path = join(root, 'missing.csv');
    expect(sourceAccessProblems(csv(path), access)).toEqual([]);
    expect(refusal(() => readSourceFile(path, access)).message).toBe(`${path}: cannot read: no such file`);
  });

  it('refuses a file over NNQ_MAX_DATASET_BYTES before reading it', () => {
    const path = join(root, 'big.csv');
    writeFileSync(path, 'a,label\n' + '1,x\n'.repeat(40)); // 168 bytes
    const small = dataFileAccess({ dataRoots: root, maxBytes: 100 });
    expect(refusal(() => readSourceFile(path, small)).message).toBe(
      `${path}: holds 168 bytes, more than NNQ_MAX_DATASET_BYTES (100 bytes)`,
    );
    expect(sourceAccessProblems(csv(path), small)).toHaveLength(1);
    expect(readSourceFile(path, dataFileAccess({ dataRoots: root, maxBytes: 168 })).length).toBe(168);
  });

  it('refuses a gzip file that inflates past the bound', () => {
    const header = Buffer.from([0, 0, 8, 1, 0, 0, 0x10, 0]); // uint8, 1 dim of 4096 items
    const path = join(root, 'bomb.idx.gz');
    writeFileSync(path, gzipSync(Buffer.concat([header, Buffer.alloc(4096)])));
    expect(() => readIdx(path, dataFileAccess({ dataRoots: root, maxBytes: 1000 }))).toThrow(
      /bomb\.idx\.gz: inflates to more than NNQ_MAX_DATASET_BYTES \(1000 bytes\)$/,
    );
  });

  it('a checked Fashion-MNIST dir outside the roots is refused', () => {
    const e = refusal(() => loadDataset({ type: 'fashion-mnist', dir: outside }, access));
    expect(e.message).toBe(`${outside}: outside the data roots (NNQ_DATA_ROOTS=${root})`);
    expect(sourceAccessProblems({ type: 'fashion-mnist', dir: outside, split: 'all' }, access)).toEqual([
      `dir: ${quote(outside, 200)}: outside the data roots (NNQ_DATA_ROOTS=${root})`,
    ]);
  });
});

describe('excerpts of content inside the roots', () => {
  it('quote at most 40 characters of a non-numeric cell, escaped', () => {
    const line = `\u001b[2J${SECRET}\u2028${'s'.repeat(200)}`;
    const path = join(root, 'secret-cell.csv');
    writeFileSync(path, `a,label\n1,x\n${line},y\n`);
    const e = refusal(() => loadDataset(csv(path), access));
    expect(e.message).toMatch(
      /secret-cell\.csv:3:1: non-numeric cell "\\u001b\[2JMARKER-SECRET-7f3a9c\\u2028s+\.\.\." in column "a"$/,
    );
    const excerpt = /cell (".*") in/.exec(e.message)![1];
    expect([...(JSON.parse(excerpt) as string)].length).toBe(40);
    expect(e.message).not.toContain('s'.repeat(40));
    // eslint-disable-next-line no-control-regex
    expect(e.message).not.toMatch(/[\u0000-\u001f\u2028]/);
  });

  it('quote a long header name once, cut', () => {
    const path = join(root, 'header.csv');
    writeFileSync(path, `${'h'.repeat(100)},label\n1,x\n`);
    const e = refusal(() => loadDataset({ ...csv(path), labelColumns: ['y'] }, access));
    expect(e.message).toMatch(/unknown label column "y" \(the header has: "h{21}\.\.\.", label\)$/);
  });

  it('quote no part of a JSON file V8 echoes in its syntax errors', () => {
    const path = join(root, 'bad.json');
    writeFileSync(path, `[{"a": 1, "label": "x"}, ${SECRET}]`);
    const e = refusal(() =>
      loadDataset({ type: 'json', path, labelColumns: ['label'], task: 'classification' }, access),
    );
    expect(e.message).toMatch(/bad\.json:1:26: invalid JSON: unexpected token "M"$/);
  });
});

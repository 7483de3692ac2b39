import { describe, expect, it } from 'vitest';
import { flattenInputRow, parseSpec } from '@nnq/nn';
import { parsePredictInput } from './predict-input';
import { thrownBy } from '../../../test/support/thrown';

describe('parsePredictInput', () => {
  it.each([
    ['the HTTP body', '{"inputs": [[0, 1], [1, 0]]}'],
    ['a bare array of rows', '[[0, 1], [1, 0]]'],
    ['NDJSON rows', '[0, 1]\n[1, 0]\n'],
    ['NDJSON with blank lines and CRLF', '\n[0, 1]\r\n\r\n[1, 0]\r\n'],
  ])('reads %s', (_what, text) => {
    expect(parsePredictInput(text, 'in')).toEqual([
      [0, 1],
      [1, 0],
    ]);
  });

  it('reads a single bare row', () => {
    expect(parsePredictInput('[0.5, 2]', 'in')).toEqual([[0.5, 2]]);
  });

  it.each([
    ['{"inputs": [[0, "a"]]}', /^in\.json: invalid predict input:\n {2}inputs\[0\]\[1\]: .*expected number/],
    ['[[0, 1], []]', /inputs\[1\]: must not be empty/],
    ['[]', /inputs: must hold at least one row/],
    ['{"rows": [[1]]}', /inputs: .*expected array[\s\S]*Unrecognized key: "rows"/],
    ['   ', /^in\.json: no input rows/],
    ['"text"', /^in\.json: expected \{"inputs": \[\[\.\.\.\], \.\.\.\]\}, an array of rows or NDJSON rows$/],
    ['{"inputs": [[1, 2]', /^in\.json:1:19: invalid JSON/],
    ['[0, 1]\n[1, "x"]\n[1, 2', /line 2\[1\]: .*expected number[\s\S]*line 3: invalid JSON/],
    // V8 quotes a long line back cut at its end ("[1, x, 1, "... is not valid JSON): not echoed
    [`[0, 1]\n[1, x${', 1'.repeat(40)}]`, /line 2: invalid JSON: unexpected token "x"$/],
  ])('names what is wrong in %j', (text, message) => {
    expect(() => parsePredictInput(text, 'in.json')).toThrow(message);
  });

  it('exits 2 and caps the list of problems', () => {
    const rows = Array.from({ length: 30 }, () => '["x"]').join('\n');
    const err = thrownBy(() => parsePredictInput(rows, 'in'));
    expect((err as { code: number }).code).toBe(2);
    expect((err as Error).message).toMatch(/line 20\[0\][\s\S]*\.\.\. and 10 more$/);
  });

  it('takes more rows than the HTTP body limit (predicting in-process)', () => {
    const rows = Array.from({ length: 10_001 }, (_, i) => [i]);
    expect(parsePredictInput(JSON.stringify(rows), 'in')).toHaveLength(10_001);
  });
});

describe('parsePredictInput: image rows of a model with an inputShape', () => {
  const spec = parseSpec({
    inputShape: [2, 2, 1],
    layers: [{ kind: 'flatten' }, { units: 1, activation: 'identity' }],
    loss: 'mse',
  });
  const toRow = (row: unknown) => flattenInputRow(spec, row);
  const TAKES = String.raw`the model takes an image \[2\]\[2\]\[1\] or 4 flat values$`;
  const img = (a: number) => `[[[${a}], [${a + 1}]], [[${a + 2}], [${a + 3}]]]`;

  it.each([
    ['the HTTP body of images', `{"inputs": [${img(1)}, ${img(5)}]}`],
    ['an array of images', `[${img(1)}, ${img(5)}]`],
    ['NDJSON images', `${img(1)}\n${img(5)}\n`],
    ['images and flat rows mixed', `[${img(1)}, [5, 6, 7, 8]]`],
  ])('reads %s, flattened [h][w][c]', (_what, text) => {
    expect(parsePredictInput(text, 'in', toRow)).toEqual([
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ]);
  });

  it('reads one bare image as one row', () => {
    expect(parsePredictInput(img(1), 'in', toRow)).toEqual([[1, 2, 3, 4]]);
  });

  it.each([
    [
      `[${img(1)}, [[[1], [2]]]]`,
      new RegExp(String.raw`^in: invalid predict input:\n {2}inputs\[1\]: has shape \[1\]\[2\]\[1\], ` + TAKES),
    ],
    [`${img(1)}\n[1, 2, 3]`, new RegExp(String.raw`^in: invalid predict input:\n {2}line 2: has 3 values, ` + TAKES)],
    ['{"inputs": [[]]}', /inputs\[0\]: must not be empty/],
  ])('names the row and the expected shape in %j', (text, message) => {
    expect(() => parsePredictInput(text, 'in', toRow)).toThrow(message);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonErrorOffset, lineColumn, parseJsonText } from './json-text';

describe('JSON syntax errors', () => {
  it.each([
    ['{"a": }', 6],
    ['{"a": 1', 7],
    ['{"a" 1}', 5],
    ['[1, 2,]', 6],
    ['', 0],
    ['{"a": tru}', 9],
    ['{"a": 1} x', 9],
    ['{"a": "\\x"}', 8],
    ['{"a": 01}', 7],
    ["{'a': 1}", 1],
  ])('finds where %j stops being JSON (offset %i)', (text, offset) => {
    expect(jsonErrorOffset(text)).toBe(offset);
  });

  it('agrees with JSON.parse on what is valid', () => {
    const texts = fc.oneof(
      fc.json(),
      fc.json().map((s) => s.slice(0, -1)),
      fc.tuple(fc.json(), fc.nat(), fc.constantFrom(',', '}', ']', ':', '"', ' ', '-', '0')).map(([s, i, c]) => {
        const at = i % (s.length + 1);
        return s.slice(0, at) + c + s.slice(at);
      }),
    );
    fc.assert(
      fc.property(texts, (text) => {
        let valid = true;
        try {
          JSON.parse(text);
        } catch {
          valid = false;
        }
        expect(jsonErrorOffset(text) === -1).toBe(valid);
      }),
      { numRuns: 2000 },
    );
  });

  it('gives 1-based line and column', () => {
    expect(lineColumn('ab\ncd', 4)).toEqual({ line: 2, column: 2 });
    expect(lineColumn('ab', 0)).toEqual({ line: 1, column: 1 });
  });

  it('names the file, line and column, without V8 quoting the text back', () => {
    expect(() => parseJsonText('{\n  "name": "x",\n  "seed": }\n', 'run.json')).toThrow(
      /^run\.json:3:11: invalid JSON: Unexpected token '}'$/,
    );
    expect(() => parseJsonText('{"a": 1', 'in.json')).toThrow(/^in\.json:1:8: invalid JSON: Expected ',' or '}'/);
    expect(() => parseJsonText('', 'empty.json')).toThrow(/^empty\.json:1:1: invalid JSON: unexpected end of input$/);
  });
});

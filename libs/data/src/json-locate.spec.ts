import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonSyntaxError, jsonSyntaxErrorOffset, lineColumn } from './json-locate';

/** The reason and place JSON.parse's error on `text` is reported with. */
const located = (text: string) => {
  try {
    JSON.parse(text);
  } catch (err) {
    return jsonSyntaxError(text, err as Error);
  }
  throw new Error(`${text} is valid JSON`);
};

describe('JSON syntax errors', () => {
  it.each([
    ['{"a": }', 6],
    ['{"a": 1', 7],
    ['{"a" 1}', 5],
    ['[1, 2,]', 6],
    ['', 0],
    ['{"a": tru}', 6], // the value that is not one
    ['{"a": 1} x', 9],
    ['{"a": "\\x"}', 6], // the string with the bad escape
    ['{"a": 01}', 7],
    ["{'a': 1}", 1],
  ])('finds where %j stops being JSON (offset %i)', (text, offset) => {
    expect(jsonSyntaxErrorOffset(text)).toBe(offset);
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
        expect(jsonSyntaxErrorOffset(text) === -1).toBe(valid);
      }),
      { numRuns: 2000, seed: 22 },
    );
  });

  it('gives 1-based line and column', () => {
    expect(lineColumn('ab\ncd', 4)).toEqual({ line: 2, column: 2 });
    expect(lineColumn('ab', 0)).toEqual({ line: 1, column: 1 });
  });

  it('gives line, column and a reason without V8 quoting the text back', () => {
    expect(located('{\n  "name": "x",\n  "seed": }\n')).toEqual({
      line: 3,
      column: 11,
      reason: 'unexpected token "}"',
    });
    expect(located('{"a": 1')).toMatchObject({
      line: 1,
      column: 8,
      reason: expect.stringMatching(/^Expected ',' or '}'/),
    });
    expect(located('')).toEqual({ line: 1, column: 1, reason: 'unexpected end of input' });
  });

  it('drops both forms of V8 copy of the text: "...abc" and "abc"... (a long text cut at either end)', () => {
    const long = `{"a": [${'1, '.repeat(40)}x]}`;
    const { reason } = located(long);
    expect(reason).not.toMatch(/is not valid JSON|\.\.\.|1, 1/);
    expect(reason).toMatch(/^unexpected token "x"$/);
    const head = `x${'1, '.repeat(40)}`;
    expect(located(head).reason).toMatch(/^unexpected token "x"$/);
  });
});

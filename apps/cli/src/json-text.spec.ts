import { describe, expect, it } from 'vitest';
import { EXIT } from './cli-error';
import { parseJsonText } from './json-text';
import { thrownBy } from '../../../test/support/thrown';

describe('parseJsonText', () => {
  it('names the file, line and column, without V8 quoting the text back', () => {
    expect(() => parseJsonText('{\n  "name": "x",\n  "seed": }\n', 'run.json')).toThrow(
      /^run\.json:3:11: invalid JSON: unexpected token "}"$/,
    );
    expect(() => parseJsonText('{"a": 1', 'in.json')).toThrow(/^in\.json:1:8: invalid JSON: Expected ',' or '}'/);
    expect(() => parseJsonText('', 'empty.json')).toThrow(/^empty\.json:1:1: invalid JSON: unexpected end of input$/);
  });

  it('drops V8 copy of a long text cut at its end ("abc"... is not valid JSON), exit 2', () => {
    const text = `x${'1, '.repeat(40)}`;
    expect(() => parseJsonText(text, 'long.json')).toThrow(/^long\.json:1:1: invalid JSON: unexpected token "x"$/);
    expect((thrownBy(() => parseJsonText(text, 'long.json')) as { code: number }).code).toBe(EXIT.usage);
  });
});

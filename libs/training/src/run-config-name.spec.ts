import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { problemsOf } from '../../../test/support/problems';
import { parseRunConfig, RunConfigError } from './run-config';

const xor = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'examples', 'xor.json'), 'utf8')) as object;

const problems = (json: unknown): string[] => problemsOf(RunConfigError, parseRunConfig, json);

describe('run names are printable text', () => {
  it('accepts names in any script, with emoji', () => {
    expect(problems({ ...xor, name: 'xor Ünïcødé 名前 🚀' })).toEqual([]);
  });

  it.each([
    ['a C1 control', 'x\u009b31m', /^name: must be printable text: U\+009B at character 1 is a control character$/],
    ['DEL', 'x\u007f', /^name: must be printable text: U\+007F at character 1 is a control character$/],
    ['a bidi override', 'gpj.\u202eexe', /^name: must be printable text: U\+202E at character 4 is a bidi control$/],
    ['a bidi isolate', 'a\u2068b', /^name: must be printable text: U\+2068 at character 1 is a bidi control$/],
    ['a lone surrogate', 'bad\udfff', /^name: must be printable text: U\+DFFF at character 3 is a lone surrogate$/],
    ['markup', 'a<b>', /^name: must not contain < or >$/],
  ])('refuses %s by path', (_what, name, message) => {
    expect(problems({ ...xor, name })).toEqual([expect.stringMatching(message)]);
  });

  it('refuses a config nested too deep before the schema walks it', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 20_000; i++) deep = [deep];
    expect(problems({ ...xor, model: { layers: deep } })).toEqual([
      expect.stringMatching(/^model\.layers(\[0\]){30}: is nested more than 32 levels deep$/),
    ]);
  });
});

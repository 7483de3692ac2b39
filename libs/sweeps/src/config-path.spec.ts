import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { problemsOf } from '../../../test/support/problems';
import { parsePath } from './config-path';
import { parseSweepConfig, SweepConfigError } from './sweep-config';

const sweep = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'examples', 'sweep-spirals.json'), 'utf8')) as {
  space: Record<string, unknown>;
};

/** The sweep's problems with one more space key (JSON text, so `__proto__` is an own key as over HTTP). */
const problemsWith = (key: string, value: string): string[] => {
  const text = JSON.stringify(sweep).replace('"space":{', `"space":{${JSON.stringify(key)}:${value},`);
  return problemsOf(SweepConfigError, parseSweepConfig, JSON.parse(text));
};

describe('sweep space keys are applied or refused', () => {
  it('parses paths of identifiers and indexes', () => {
    expect(parsePath('model.layers[0].units')).toEqual(['model', 'layers', 0, 'units']);
  });

  it.each(['constructor', 'prototype', 'optimizer.constructor', 'model.layers[0].prototype'])(
    'refuses the path %s by its key',
    (key) => {
      const seg = /(constructor|prototype)$/.exec(key)![1];
      expect(problemsWith(key, '{"type": "choice", "values": [1]}')).toEqual([
        `space[${JSON.stringify(key)}]: names ${seg}, which is not a config key`,
      ]);
    },
  );

  it('echoes a bad path escaped: no bidi or C1 character reaches a terminal', () => {
    expect(problemsWith('lr\u202e\u009b', '{"type": "choice", "values": [1]}')).toEqual([
      'space["lr\\u202E\\u009B"]: is not a config path like optimizer.lr or model.layers[0].units ' +
        '(at "\\u202E\\u009B")',
    ]);
  });

  it('refuses a __proto__ key (JSON.parse keeps it; an assignment would drop it)', () => {
    expect(problemsWith('__proto__', '{"type": "choice", "values": [1]}')).toEqual([
      'space: the key "__proto__" is not allowed',
    ]);
  });

  it('refuses a 20,000-deep choice value with its path, not a stack overflow', () => {
    const value = `{"type": "choice", "values": [${'['.repeat(20_000)}${']'.repeat(20_000)}]}`;
    expect(problemsWith('epochs', value)).toEqual([
      expect.stringMatching(/^space\.epochs\.values(\[0\]){29}: is nested more than 32 levels deep$/),
    ]);
  });
});

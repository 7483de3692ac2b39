import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CliError } from './cli-error';
import { ConfigFileError, readRunConfigFile } from './config-file';
import { thrownBy } from '../../../test/support/thrown';

const good = {
  name: 'xor',
  dataset: { source: { type: 'synthetic', name: 'xor', n: 64, seed: 1, task: 'regression' } },
  model: { inputSize: 2, layers: [{ units: 1, activation: 'identity' }], loss: 'sum_of_squares' },
  optimizer: { type: 'sgd', lr: 0.1 },
  batchSize: 16,
  steps: 10,
};

describe('readRunConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nnq-cli-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('returns the validated config and the JSON as written', () => {
    const { config, json } = readRunConfigFile(file('good.json', JSON.stringify(good)));
    expect(config.shards).toBe(1); // default applied
    expect(json).toEqual(good); // submitted as written
  });

  it('lists every problem by path under the file name, exit code 2', () => {
    const path = file('bad.json', JSON.stringify({ ...good, batchSize: 0, shards: 2.5, steps: undefined }));
    const err = thrownBy(() => readRunConfigFile(path));
    expect(err).toBeInstanceOf(ConfigFileError);
    const e = err as ConfigFileError;
    expect(e.code).toBe(2);
    expect(e.message).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: invalid run config:`));
    expect(e.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^batchSize: must be at least 1$/),
        expect.stringMatching(/^shards: must be an integer$/),
      ]),
    );
    expect(e.message).toMatch(/\n {2}batchSize: must be at least 1/);
  });

  it('refuses a second-order run with a reduce strategy it would ignore, as POST /runs does', () => {
    const so = { ...good, optimizer: { type: 'hessian_free' }, batchSize: 64, reduce: { strategy: 'replicated' } };
    const err = thrownBy(() => readRunConfigFile(file('so.json', JSON.stringify(so))));
    expect(err).toBeInstanceOf(ConfigFileError);
    const refusal = /reduce\.strategy: "replicated" does not apply to hessian_free: .*"auto" or "central"$/;
    expect((err as ConfigFileError).message).toMatch(
      new RegExp(/so\.json: invalid run config:\n {2}/.source + refusal.source),
    );
  });

  it('names the file, line and column of a JSON syntax error', () => {
    const path = file('syntax.json', '{\n  "name": "xor",\n  "seed": 1,\n}\n');
    expect(() => readRunConfigFile(path)).toThrow(/syntax\.json:4:1: invalid JSON/);
  });

  it('names a missing file', () => {
    expect(() => readRunConfigFile(join(dir, 'nope.json'))).toThrow(
      /cannot read run config .*nope\.json: no such file/,
    );
    expect(() => readRunConfigFile(dir)).toThrow(CliError);
  });
});

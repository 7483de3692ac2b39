import { parseSpec, writeModel } from '@nnq/nn';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CliError, EXIT } from './cli-error';
import { loadModelFile } from './model-file';
import { writeModelFile } from './model-output';
import { writeOutputFile } from './output-file';
import { thrownBy } from '../../../test/support/thrown';

const dir = mkdtempSync(join(tmpdir(), 'nnq-cli-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The CliError `fn` throws (fails the test when it throws nothing or something else). */
function cliError(fn: () => unknown): CliError {
  const err = thrownBy(fn);
  expect(err).toBeInstanceOf(CliError);
  return err as CliError;
}

describe('writeOutputFile', () => {
  it('creates the directory, writes text or bytes and returns the path', () => {
    const path = join(dir, 'a', 'b', 'out.txt');
    expect(writeOutputFile(path, 'héllo\n')).toBe(path);
    expect(readFileSync(path, 'utf8')).toBe('héllo\n');
    writeOutputFile(path, Uint8Array.of(1, 2, 3));
    expect([...readFileSync(path)]).toEqual([1, 2, 3]);
  });

  it('names the path, or what the caller says, in a failure (exit 1)', () => {
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, 'x');
    const e = cliError(() => writeOutputFile(join(blocker, 'out.txt'), 'x'));
    expect(e.message).toMatch(new RegExp(`^cannot write ${join(blocker, 'out.txt')}: `));
    expect(e.code).toBe(EXIT.failed);
    const m = cliError(() => writeModelFile(join(blocker, 'm.safetensors'), 'n', 'id', Uint8Array.of(1)));
    expect(m.message).toMatch(new RegExp(`^cannot write the model to ${join(blocker, 'm.safetensors')}: `));
  });
});

describe('loadModelFile', () => {
  it('reads back a model written by libs/nn', () => {
    const spec = parseSpec({ inputSize: 2, layers: [{ units: 1, activation: 'identity' }], loss: 'sum_of_squares' });
    const params = Float32Array.of(0.5, -1, 0.25);
    const path = writeOutputFile(join(dir, 'm.safetensors'), writeModel({ spec, params }));
    const model = loadModelFile(path);
    expect(model.spec).toEqual(spec);
    expect([...model.params]).toEqual([...params]);
  });

  it('refuses a missing or malformed file as a usage error naming it', () => {
    const missing = cliError(() => loadModelFile(join(dir, 'nope.safetensors')));
    expect(missing.message).toBe(`cannot read model ${join(dir, 'nope.safetensors')}: no such file`);
    expect(missing.code).toBe(EXIT.usage);
    const junk = writeOutputFile(join(dir, 'junk.safetensors'), 'not a model');
    const bad = cliError(() => loadModelFile(junk));
    expect(bad.message).toMatch(new RegExp(`^${junk}: not an nnq model file: `));
    expect(bad.code).toBe(EXIT.usage);
  });
});

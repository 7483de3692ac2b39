import { readModel, type ModelContents } from '@nnq/nn';
import { readFileSync } from 'node:fs';
import { CliError, EXIT } from './cli-error';

/** Read a model file (.safetensors); a missing, unreadable or malformed file is a usage error naming it. */
export function loadModelFile(path: string): ModelContents {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CliError(`cannot read model ${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, EXIT.usage);
  }
  try {
    return readModel(bytes);
  } catch (err) {
    throw new CliError(`${path}: not an nnq model file: ${(err as Error).message}`, EXIT.usage);
  }
}

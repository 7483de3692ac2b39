import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { CliError, EXIT } from './cli-error';

/** `./<name>-<id>.safetensors`, the name cut down to file-name-safe characters. */
export function defaultModelPath(name: string, id: string): string {
  const safe = name.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[-.]+|-+$/g, '') || 'model';
  return `./${safe}-${id}.safetensors`;
}

/** Write model bytes to `out` (default: defaultModelPath), creating its directory; returns the path. */
export function writeModelFile(out: string | undefined, name: string, id: string, bytes: Uint8Array): string {
  const path = out ?? defaultModelPath(name, id);
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, bytes);
  } catch (err) {
    throw new CliError(`cannot write the model to ${path}: ${(err as Error).message}`, EXIT.failed);
  }
  return path;
}

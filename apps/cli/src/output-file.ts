import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { CliError, EXIT } from './cli-error';

/**
 * Write `data` to `path`, creating its directory; returns the path. A failure is exit 1 with
 * `cannot write <what>: <reason>` (`what` defaults to the path).
 */
export function writeOutputFile(path: string, data: string | Uint8Array, what = path): string {
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, data);
  } catch (err) {
    throw new CliError(`cannot write ${what}: ${(err as Error).message}`, EXIT.failed);
  }
  return path;
}

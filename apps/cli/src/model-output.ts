import { writeOutputFile } from './output-file';

/** `./<name>-<id>.safetensors`, the name cut down to file-name-safe characters. */
export function defaultModelPath(name: string, id: string): string {
  const safe = name.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[-.]+|-+$/g, '') || 'model';
  return `./${safe}-${id}.safetensors`;
}

/** Write model bytes to `out` (default: defaultModelPath), creating its directory; returns the path. */
export function writeModelFile(out: string | undefined, name: string, id: string, bytes: Uint8Array): string {
  const path = out ?? defaultModelPath(name, id);
  return writeOutputFile(path, bytes, `the model to ${path}`);
}

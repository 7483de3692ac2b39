import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Where a run's files live on the coordinator (NNQ_RUN_STORE=files): NNQ_DATA_DIR/runs/<id>/. */
export const runDir = (dataDir: string, id: string) => join(dataDir, 'runs', id);

/** Write to a temp name and rename, so a reader never sees half a file. */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

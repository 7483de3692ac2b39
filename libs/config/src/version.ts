import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The nnq version from the project's package.json, found by walking up from this file (source or dist). */
export function nnqVersion(): string {
  let dir = __dirname;
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'nnq' && pkg.version) return pkg.version;
    }
    const up = dirname(dir);
    if (up === dir) return '0.0.0';
    dir = up;
  }
}

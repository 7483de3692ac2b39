import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** A file the dashboard serves: its bytes and content type. */
export interface Asset {
  body: Buffer;
  type: string;
}

const SOURCE_PUBLIC = join('apps', 'coordinator', 'src', 'dashboard', 'public');

/**
 * The dashboard's static files. swc compiles only the TypeScript, so from dist/ they are read
 * from the source tree: `public/` beside this file when it exists (running from source, or a
 * build that copied it), else apps/coordinator/src/dashboard/public under the first ancestor
 * directory that holds it (the package root). (swc does compile public/dashboard.js into dist/,
 * but without index.html beside it that copy is never picked.)
 */
export function findPublicDir(from: string = __dirname): string | undefined {
  const beside = join(from, 'public');
  if (existsSync(join(beside, 'index.html'))) return beside;
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, SOURCE_PUBLIC);
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/** Files by URL name: our own from public/, uPlot's from node_modules (no CDN). */
export function assetFiles(publicDir: string): Record<string, { path: string; type: string }> {
  const uplot = dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
  return {
    'index.html': { path: join(publicDir, 'index.html'), type: 'text/html; charset=utf-8' },
    'dashboard.js': { path: join(publicDir, 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
    'dashboard-ui.js': { path: join(publicDir, 'dashboard-ui.js'), type: 'text/javascript; charset=utf-8' },
    'run-cards.js': { path: join(publicDir, 'run-cards.js'), type: 'text/javascript; charset=utf-8' },
    'sweeps.js': { path: join(publicDir, 'sweeps.js'), type: 'text/javascript; charset=utf-8' },
    'dashboard.css': { path: join(publicDir, 'dashboard.css'), type: 'text/css; charset=utf-8' },
    'uPlot.iife.min.js': { path: join(uplot, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
    'uPlot.min.css': { path: join(uplot, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
  };
}

/** Reads each file once, on first use. */
export class AssetCache {
  private readonly cache = new Map<string, Asset>();
  private readonly files?: Record<string, { path: string; type: string }>;
  readonly publicDir?: string;

  constructor(publicDir = findPublicDir()) {
    this.publicDir = publicDir;
    this.files = publicDir ? assetFiles(publicDir) : undefined;
  }

  /** The asset called `name`, or undefined for a name not on the list. Throws when a listed file is missing. */
  get(name: string): Asset | undefined {
    const cached = this.cache.get(name);
    if (cached) return cached;
    const file = this.files && Object.hasOwn(this.files, name) ? this.files[name] : undefined;
    if (!file) return undefined;
    const asset = { body: readFileSync(file.path), type: file.type };
    this.cache.set(name, asset);
    return asset;
  }
}

import { closeSync, constants, fstatSync, openSync, readlinkSync, readSync, realpathSync, type Stats } from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { DataAccessError, DataError } from './errors';
import { quote } from './excerpt';
import { FASHION_MNIST_DIR, type DatasetSource } from './source';

/**
 * Which files a process may read as dataset sources. A run config comes from whoever may POST to
 * the coordinator, so its paths are confined: a file must lie in one of the data roots once every
 * symbolic link is resolved (`..` included), must be a regular file (never a device, pipe, socket
 * or a file of /proc, /sys or /dev) and at most `maxBytes` long. Refusals name the path and the
 * roots and quote nothing of the file.
 */
export interface FileAccess {
  /** Directories sources must lie in (absolute); null: anywhere (the user's own CLI process). */
  roots: readonly string[] | null;
  /** Most bytes one source file may hold, and a gzip file may inflate to. */
  maxBytes: number;
}

/**
 * Default of NNQ_MAX_DATASET_BYTES: 256 MiB, under V8's longest string (512 Mi characters), which
 * bounds a CSV or JSON text however large the setting (readSourceText).
 */
export const DEFAULT_MAX_DATASET_BYTES = 256 * 1024 * 1024;

const MAX_STRING_LENGTH = bufferConstants.MAX_STRING_LENGTH;

/** Special file systems: never read, whatever the roots say. */
const SPECIAL_DIRS = ['/proc', '/sys', '/dev'];

export interface DataAccessSettings {
  /** NNQ_DATA_ROOTS: directories separated by `:` (as in PATH); unset or empty: the defaults. */
  dataRoots?: string;
  /** NNQ_DATA_DIR, a default root (default `.nnq`). */
  dataDir?: string;
  /** NNQ_MAX_DATASET_BYTES. */
  maxBytes?: number;
}

/** The roots of NNQ_DATA_ROOTS, made absolute; unset: NNQ_DATA_DIR and the Fashion-MNIST directory. */
export function parseDataRoots(list: string | undefined, dataDir = '.nnq', cwd = process.cwd()): string[] {
  const entries = list?.trim() ? list.split(':').filter((e) => e.trim() !== '') : [dataDir, FASHION_MNIST_DIR];
  return [...new Set(entries.map((e) => resolve(cwd, e)))];
}

export function dataFileAccess(settings: DataAccessSettings = {}): FileAccess {
  const maxBytes = settings.maxBytes ?? DEFAULT_MAX_DATASET_BYTES;
  if (!(Number.isInteger(maxBytes) && maxBytes > 0)) {
    throw new RangeError(`NNQ_MAX_DATASET_BYTES must be a positive integer, got ${maxBytes}`);
  }
  return { roots: parseDataRoots(settings.dataRoots, settings.dataDir), maxBytes };
}

/** A process's access from its environment: NNQ_DATA_ROOTS, NNQ_DATA_DIR, NNQ_MAX_DATASET_BYTES. */
export function defaultFileAccess(env: NodeJS.ProcessEnv = process.env): FileAccess {
  const max = env.NNQ_MAX_DATASET_BYTES;
  return dataFileAccess({
    dataRoots: env.NNQ_DATA_ROOTS,
    dataDir: env.NNQ_DATA_DIR || undefined,
    maxBytes: max ? Number(max) : undefined,
  });
}

/** Any path, still only regular files of at most `maxBytes`: a user's own process reading their files. */
export function unconfinedAccess(maxBytes = DEFAULT_MAX_DATASET_BYTES): FileAccess {
  return { roots: null, maxBytes };
}

/** The roots as NNQ_DATA_ROOTS would list them. */
export function describeRoots(access: FileAccess): string {
  return access.roots ? `NNQ_DATA_ROOTS=${access.roots.join(':')}` : 'any directory';
}

function within(path: string, dir: string): boolean {
  const r = relative(dir, path);
  return r === '' || (r !== '..' && !r.startsWith(`..${sep}`) && !isAbsolute(r));
}

function realRoot(root: string): string {
  try {
    return realpathSync.native(root);
  } catch {
    return root; // not there (yet): nothing can resolve into it either
  }
}

/**
 * Confine a path and return its real path: first as written (so nothing outside the roots is even
 * looked up), then with every symbolic link resolved. Throws DataAccessError for a refusal and
 * DataError for a path that cannot be resolved (missing: the loader's "no such file").
 */
function confine(file: string, access: FileAccess): string {
  const abs = resolve(file);
  const roots = access.roots?.map((r) => [r, realRoot(r)]);
  const named = `(${describeRoots(access)})`;
  if (roots && !roots.some(([r, real]) => within(abs, r) || within(abs, real))) {
    throw new DataAccessError(file, `outside the data roots ${named}`);
  }
  let real: string;
  try {
    real = realpathSync.native(abs);
  } catch (err) {
    throw new DataError(file, `cannot read: ${reason(err)}`);
  }
  if (roots && !roots.some(([, r]) => within(real, r))) {
    throw new DataAccessError(file, `a symbolic link leads outside the data roots ${named}`);
  }
  const special = SPECIAL_DIRS.find((d) => within(real, d));
  if (special) throw new DataAccessError(file, `in ${special}, a special file system: only regular files are read`);
  return real;
}

function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EISDIR':
      return 'is a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a component of the path is not a directory';
    case 'ELOOP':
      return 'too many symbolic links';
    default:
      return e.code ?? e.message;
  }
}

/** What a non-regular file is, or null for a regular file. */
function kindOf(st: Stats): string | null {
  if (st.isFile()) return null;
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a named pipe';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

export function formatBytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} bytes`;
}

function tooBig(size: number, access: FileAccess): string {
  return `holds ${formatBytes(size)}, more than NNQ_MAX_DATASET_BYTES (${formatBytes(access.maxBytes)})`;
}

/**
 * Open a confined file without blocking: O_NONBLOCK, so a named pipe with no writer opens at once
 * (and is then refused by fstat); O_NOFOLLOW, so a link swapped in after the check is not followed.
 */
function openConfined(file: string, access: FileAccess): { fd: number; st: Stats } {
  const real = confine(file, access);
  let fd: number;
  try {
    fd = openSync(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (err) {
    throw new DataError(file, `cannot read: ${reason(err)}`);
  }
  try {
    const st = fstatSync(fd);
    // a directory on the way swapped for a link after confine(): judge the file actually opened
    const opened = openedPath(fd);
    if (opened && access.roots && !access.roots.some((r) => within(opened, realRoot(r)))) {
      throw new DataAccessError(file, `a symbolic link leads outside the data roots (${describeRoots(access)})`);
    }
    const kind = kindOf(st);
    if (kind === 'a directory') throw new DataError(file, 'cannot read: is a directory');
    if (kind) throw new DataAccessError(file, `cannot read: not a regular file (${kind})`);
    if (st.size > access.maxBytes) throw new DataAccessError(file, tooBig(st.size, access));
    return { fd, st };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** The real path of an open file (Linux: /proc/self/fd), or null where the system does not say. */
function openedPath(fd: number): string | null {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
}

/**
 * Read a whole source file under `access`; every refusal is a DataError naming the file. The bound
 * is checked by fstat before reading and again while reading (a file that grows stops at it).
 */
export function readSourceFile(file: string, access: FileAccess): Buffer {
  const { fd, st } = openConfined(file, access);
  try {
    let buf = Buffer.allocUnsafe(Math.min(st.size, access.maxBytes) + 1);
    let end = 0;
    for (;;) {
      if (end === buf.length) {
        if (end > access.maxBytes) {
          throw new DataAccessError(
            file,
            `grew past NNQ_MAX_DATASET_BYTES (${formatBytes(access.maxBytes)}) while read`,
          );
        }
        const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, access.maxBytes + 1));
        buf.copy(bigger, 0, 0, end);
        buf = bigger;
      }
      const n = readSync(fd, buf, end, buf.length - end, null);
      if (n === 0) break;
      end += n;
    }
    return buf.subarray(0, end);
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(file, `cannot read: ${reason(err)}`);
  } finally {
    closeSync(fd);
  }
}

/** A text source as one string; a file past V8's longest string is a DataError, not a crash. */
export function readSourceText(file: string, access: FileAccess): string {
  const bytes = readSourceFile(file, access);
  if (bytes.length > MAX_STRING_LENGTH) {
    throw new DataError(
      file,
      `holds ${formatBytes(bytes.length)}, more than a text source may (${formatBytes(MAX_STRING_LENGTH)})`,
    );
  }
  return bytes.toString('utf8');
}

/** Check a directory source (Fashion-MNIST's `dir`) against the roots; its files are checked as read. */
export function checkSourceDir(dir: string, access: FileAccess): void {
  try {
    confine(dir, access);
  } catch (err) {
    if (err instanceof DataAccessError) throw err; // a missing dir: its files say so
  }
}

/**
 * Why the files of `source` may not be read under `access`, one `<field>: <path>: <problem>` line
 * each (`path`, `images`, `labels`, `dir`), without reading any: outside the roots, through a link
 * out of them, a special file, not a regular file, too large. A file that is simply missing is
 * left to the loader, which says so. Relative paths are resolved against `cwd`.
 */
export function sourceAccessProblems(source: DatasetSource, access: FileAccess, cwd = process.cwd()): string[] {
  const fields: [string, string, 'file' | 'dir'][] =
    source.type === 'csv' || source.type === 'json'
      ? [['path', source.path, 'file']]
      : source.type === 'idx'
        ? [
            ['images', source.images, 'file'],
            ['labels', source.labels, 'file'],
          ]
        : source.type === 'fashion-mnist'
          ? [['dir', source.dir, 'dir']]
          : [];
  const problems: string[] = [];
  for (const [field, given, kind] of fields) {
    const abs = resolve(cwd, given);
    const named = abs === given ? quote(given, 200) : `${quote(given, 200)} (${quote(abs, 200)})`;
    try {
      if (kind === 'dir') confine(abs, access);
      else closeSync(openConfined(abs, access).fd);
    } catch (err) {
      if (err instanceof DataAccessError) problems.push(`${field}: ${named}: ${err.problem}`);
      else if (!(err instanceof DataError)) throw err;
    }
  }
  return problems;
}

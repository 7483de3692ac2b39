import { FORBIDDEN_KEYS, quoted } from '@nnq/protocol';

/**
 * Paths into a run config: `optimizer.lr`, `model.layers[0].units`, `batchSize`.
 * Keys are identifiers joined by dots; `[n]` indexes an array.
 */
export type PathSegment = string | number;

const SEGMENT = /^(?:([A-Za-z_$][A-Za-z0-9_$]*)|\[(\d+)\])/;

/** Split a path into segments; throws RangeError naming the offending character. */
export function parsePath(path: string): PathSegment[] {
  const out: PathSegment[] = [];
  let rest = path;
  while (rest.length) {
    if (out.length && rest[0] === '.') rest = rest.slice(1);
    const m = SEGMENT.exec(rest);
    if (!m)
      throw new RangeError(`is not a config path like optimizer.lr or model.layers[0].units (at ${quoted(rest)})`);
    // setPath would write these into a prototype, or nowhere: never a config key
    if (m[1] !== undefined && FORBIDDEN_KEYS.has(m[1]))
      throw new RangeError(`names ${m[1]}, which is not a config key`);
    out.push(m[1] !== undefined ? m[1] : Number(m[2]));
    rest = rest.slice(m[0].length);
  }
  if (!out.length) throw new RangeError('must not be empty');
  return out;
}

/** Does `path` lead to a value in `obj`? Returns the first missing prefix, or null when it exists. */
export function missingPrefix(obj: unknown, path: PathSegment[]): string | null {
  let cur = obj;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    const ok =
      typeof seg === 'number'
        ? Array.isArray(cur) && seg < cur.length
        : cur !== null && typeof cur === 'object' && !Array.isArray(cur) && Object.hasOwn(cur, seg);
    if (!ok) return formatPath(path.slice(0, i + 1));
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return null;
}

/** A deep copy of `obj` with `value` at `path` (the path must exist). */
export function setPath<T>(obj: T, path: PathSegment[], value: unknown): T {
  const copy = structuredClone(obj) as unknown;
  let cur = copy as Record<string | number, unknown>;
  for (let i = 0; i < path.length - 1; i++) cur = cur[path[i]] as Record<string | number, unknown>;
  cur[path[path.length - 1]] = structuredClone(value);
  return copy as T;
}

export function formatPath(path: PathSegment[]): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i ? `.${s}` : s)).join('');
}

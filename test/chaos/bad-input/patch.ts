/** Config patching for the bad-input cases. */

export type Json = Record<string, unknown>;

/** A copy of `base` with the value at a dotted path replaced (undefined deletes it). */
export function patch(base: Json, changes: Record<string, unknown>): Json {
  const out = structuredClone(base);
  for (const [path, value] of Object.entries(changes)) {
    const keys = path.split('.');
    let node = out as Record<string, unknown>;
    for (const k of keys.slice(0, -1)) node = node[k] as Record<string, unknown>;
    const last = keys[keys.length - 1];
    if (value === undefined) delete node[last];
    else node[last] = value;
  }
  return out;
}

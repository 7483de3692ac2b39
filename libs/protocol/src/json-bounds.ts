/**
 * Bounds on a parsed JSON value, checked before any schema looks at it: zod, structuredClone and
 * JSON.stringify recurse, so a 20,000-deep array would overflow their stack (a 500), and a huge
 * array or object costs time in every later pass. The walk here is iterative (an explicit stack),
 * so it cannot overflow itself, and it stops at the first problem.
 */
export interface JsonBounds {
  /** Arrays and objects nested inside each other; the root container is level 1. */
  maxDepth: number;
  /** Elements of one array. */
  maxArrayLength: number;
  /** Keys of one object. */
  maxKeys: number;
  /** Characters of one object key. */
  maxKeyLength: number;
}

export const JSON_BOUNDS: JsonBounds = {
  maxDepth: 32,
  maxArrayLength: 1 << 20,
  maxKeys: 10_000,
  maxKeyLength: 1_000,
};

/** Keys that name an object's prototype machinery: never config keys, never stored. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

interface Node {
  value: unknown;
  depth: number;
  parent?: Node;
  segment?: string | number;
}

import { quoted } from './printable-text';

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `a.b[0]["odd key"]`, or `(root)`; keys are shortened to 40 characters and JSON-quoted when not identifiers. */
function pathOf(node: Node | undefined): string {
  const segments: Array<string | number> = [];
  for (let n = node; n?.segment !== undefined; n = n.parent) segments.push(n.segment);
  let out = '';
  for (const s of segments.reverse()) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (IDENTIFIER.test(s)) out += out ? `.${s}` : s;
    else out += `[${quoted(s, 40)}]`;
  }
  return out || '(root)';
}

/**
 * The first problem of `value` against `bounds`, as `<path>: <what is wrong>`, or null. A key
 * `__proto__` is refused anywhere: JSON.parse makes it an own property, and copying such an
 * object with a plain assignment sets its prototype instead (the key would vanish silently).
 */
export function jsonBoundsProblem(value: unknown, bounds: JsonBounds = JSON_BOUNDS): string | null {
  const stack: Node[] = [{ value, depth: 0 }];
  while (stack.length) {
    const node = stack.pop()!;
    const v = node.value;
    if (v === null || typeof v !== 'object') continue;
    const depth = node.depth + 1;
    if (depth > bounds.maxDepth) return `${pathOf(node)}: is nested more than ${bounds.maxDepth} levels deep`;
    if (Array.isArray(v)) {
      if (v.length > bounds.maxArrayLength)
        return `${pathOf(node)}: has ${v.length} elements, more than ${bounds.maxArrayLength}`;
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], depth, parent: node, segment: i });
      continue;
    }
    const keys = Object.keys(v);
    if (keys.length > bounds.maxKeys) return `${pathOf(node)}: has ${keys.length} keys, more than ${bounds.maxKeys}`;
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i];
      if (key.length > bounds.maxKeyLength)
        return `${pathOf(node)}: has a key of ${key.length} characters, more than ${bounds.maxKeyLength}`;
      if (key === '__proto__') return `${pathOf(node)}: the key "__proto__" is not allowed`;
      stack.push({ value: (v as Record<string, unknown>)[key], depth, parent: node, segment: key });
    }
  }
  return null;
}

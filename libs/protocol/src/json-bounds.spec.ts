import { describe, expect, it } from 'vitest';
import { JSON_BOUNDS, jsonBoundsProblem } from './json-bounds';

/** `[[[...0...]]]`, `depth` arrays deep, built without recursion. */
function nested(depth: number): unknown {
  let v: unknown = 0;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

describe('jsonBoundsProblem', () => {
  it('accepts scalars, a run-config-like object and nesting up to the limit', () => {
    for (const v of [null, 1, 'x', true, [], {}]) expect(jsonBoundsProblem(v)).toBeNull();
    expect(jsonBoundsProblem({ model: { layers: [{ units: 2, mask: [[1, 0]] }] } })).toBeNull();
    expect(jsonBoundsProblem(nested(JSON_BOUNDS.maxDepth))).toBeNull();
  });

  it('refuses a 20,000-deep array by path, without overflowing its own stack', () => {
    const body = { space: { 'optimizer.lr': { type: 'choice', values: [nested(20_000)] } } };
    const problem = jsonBoundsProblem(body);
    expect(problem).toMatch(/^space\["optimizer\.lr"\]\.values(\[0\]){29}: is nested more than 32 levels deep$/);
  });

  it('refuses one level past the limit at that level', () => {
    expect(jsonBoundsProblem(nested(33))).toMatch(/^(\[0\]){32}: is nested more than 32 levels deep$/);
    expect(jsonBoundsProblem({ a: nested(32) })).toMatch(/^a(\[0\]){31}: is nested more than 32 levels deep$/);
  });

  it('refuses long arrays, many keys and long keys, naming where', () => {
    const small = { maxDepth: 8, maxArrayLength: 3, maxKeys: 2, maxKeyLength: 6 };
    expect(jsonBoundsProblem({ inputs: [[1, 2, 3, 4]] }, small)).toBe('inputs[0]: has 4 elements, more than 3');
    expect(jsonBoundsProblem({ a: { x: 1, y: 2, z: 3 } }, small)).toBe('a: has 3 keys, more than 2');
    expect(jsonBoundsProblem({ abcdefg: 1 }, small)).toBe('(root): has a key of 7 characters, more than 6');
  });

  it('refuses a __proto__ key anywhere (JSON.parse makes it an own property)', () => {
    const body = JSON.parse('{"space": {"__proto__": {"type": "choice", "values": [1]}}}') as unknown;
    expect(jsonBoundsProblem(body)).toBe('space: the key "__proto__" is not allowed');
  });

  it('quotes odd keys shortened, as JSON', () => {
    const key = `k ${'x'.repeat(60)}`;
    expect(jsonBoundsProblem({ [key]: nested(40) })).toMatch(/^\["k x{38}\.\.\."\](\[0\]){31}: is nested/);
  });
});

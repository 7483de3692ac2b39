import type { NetworkSpec } from './spec';

/**
 * A function that makes one T per spec object on its first call and returns that same T after:
 * the networks' workspaces are reused across calls and freed with the spec.
 */
export function perSpec<T extends object>(make: (spec: NetworkSpec) => T): (spec: NetworkSpec) => T {
  const cache = new WeakMap<NetworkSpec, T>();
  return (spec) => {
    let made = cache.get(spec);
    if (!made) {
      made = make(spec);
      cache.set(spec, made);
    }
    return made;
  };
}

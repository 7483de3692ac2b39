import { isCategorical, type Parameter, type TrialParams } from './search-space';

/** Number of grid points: the product of the value counts of every choice and grid parameter. */
export function gridSize(space: Record<string, Parameter>): number {
  let n = 1;
  for (const p of Object.values(space)) if (isCategorical(p)) n *= p.values.length;
  return n;
}

/**
 * Grid point k (0 <= k < gridSize) of the categorical parameters, in row-major order:
 * the first parameter varies slowest, as nested loops written in the order of the space.
 * Numeric parameters are not part of the grid (the sweep samples them per trial).
 */
export function gridPoint(space: Record<string, Parameter>, k: number): TrialParams {
  const dims = Object.entries(space).filter((e): e is [string, Extract<Parameter, { values: unknown[] }>] =>
    isCategorical(e[1]),
  );
  const out: TrialParams = {};
  let rest = k;
  for (let i = dims.length - 1; i >= 0; i--) {
    const [path, p] = dims[i];
    out[path] = p.values[rest % p.values.length];
    rest = Math.floor(rest / p.values.length);
  }
  // keep the space's key order
  return Object.fromEntries(dims.map(([path]) => [path, out[path]]));
}

/** Every grid point, in order. */
export function enumerateGrid(space: Record<string, Parameter>): TrialParams[] {
  return Array.from({ length: gridSize(space) }, (_, k) => gridPoint(space, k));
}

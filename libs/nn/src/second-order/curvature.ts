import { createRng } from '../rng';
import { dot, type MaybePromise } from './objective';

/**
 * Curvature as a signal, from Hessian-vector products alone (hessian-vector.ts):
 *   top eigenvalue  power iteration v <- H v / |H v| from a seeded start, a fixed number of
 *                   products; the estimate is the Rayleigh quotient v.Hv of the last unit v
 *                   (the eigenvalue of largest magnitude: it may be negative at a saddle)
 *   trace           Hutchinson's estimator tr H = E[z.Hz] over Rademacher probes z (entries
 *                   +-1, seeded), the mean of a fixed number of probes
 * Products are of the caller's choosing (H v or G v, on any batch).
 */

export type Product = (v: Float64Array) => MaybePromise<Float64Array>;

export interface EigenEstimate {
  /** v.Hv at the last unit iterate. */
  value: number;
  /** The last unit iterate. */
  vector: Float64Array;
  products: number;
}

/** The eigenvalue of H of largest magnitude by `iterations` products (power iteration, seeded start). */
export async function topEigenvalue(
  product: Product,
  size: number,
  iterations: number,
  seed: number,
): Promise<EigenEstimate> {
  if (!Number.isInteger(iterations) || iterations < 1)
    throw new RangeError(`iterations must be at least 1, got ${iterations}`);
  const rng = createRng(seed);
  let v = Float64Array.from({ length: size }, () => rng.normal());
  normalize(v);
  let value = 0;
  for (let k = 0; k < iterations; k++) {
    const hv = Float64Array.from(await product(v));
    value = dot(v, hv); // Rayleigh quotient of the unit v
    const n = Math.sqrt(dot(hv, hv));
    if (!(n > 0) || !Number.isFinite(n)) break; // H v = 0: v is in the null space, value 0
    for (let i = 0; i < size; i++) hv[i] /= n;
    v = hv;
  }
  return { value, vector: v, products: iterations };
}

/** Hutchinson's estimate of tr H: the mean of z.Hz over `probes` seeded Rademacher vectors. */
export async function hutchinsonTrace(product: Product, size: number, probes: number, seed: number): Promise<number> {
  if (!Number.isInteger(probes) || probes < 1) throw new RangeError(`probes must be at least 1, got ${probes}`);
  const rng = createRng(seed);
  let sum = 0;
  for (let k = 0; k < probes; k++) {
    const z = Float64Array.from({ length: size }, () => (rng.next() < 0.5 ? -1 : 1));
    sum += dot(z, await product(z));
  }
  return sum / probes;
}

function normalize(v: Float64Array): void {
  const n = Math.sqrt(dot(v, v));
  for (let i = 0; i < v.length; i++) v[i] /= n;
}

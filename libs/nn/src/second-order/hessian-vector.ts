import type { Vec } from '../activations';
import { perSpec } from '../per-spec';
import type { NetworkSpec } from '../spec';
import { CurvatureNetwork } from './curvature-network';

/**
 * Curvature-vector products as functions (one cached CurvatureNetwork per spec object):
 * H v (the exact Hessian of J, summed over the batch) and G v (the Gauss-Newton matrix), in
 * float32 or float64. The R-operator equations are in curvature-network.ts and activation-r.ts.
 */

/** The cached CurvatureNetwork of a spec (workspaces reused across calls). */
export const curvatureNetworkFor: (spec: NetworkSpec) => CurvatureNetwork = perSpec(
  (spec) => new CurvatureNetwork(spec),
);

/** A curvature-vector product along v at params and a batch (x, y), in one precision. */
type Product<T extends Vec> = (spec: NetworkSpec, params: T, v: T, x: T, y: T, batch: number) => T;

function product<T extends Vec>(
  kind: 'hessian' | 'gauss-newton',
  spec: NetworkSpec,
  params: T,
  v: T,
  x: T,
  y: T,
  batch: number,
  out: T,
): T {
  const net = curvatureNetworkFor(spec);
  net.setPoint(params, x, y, batch);
  return kind === 'hessian' ? net.hessianVector(v, out) : net.gaussNewtonVector(v, out);
}

/** H v = d/dr dJ/dparams(params + r v) at r = 0, summed over the batch (float32 in and out). */
export const hessianVector: Product<Float32Array> = (spec, params, v, x, y, batch) =>
  product('hessian', spec, params, v, x, y, batch, new Float32Array(params.length));

/** hessianVector in float64. */
export const hessianVector64: Product<Float64Array> = (spec, params, v, x, y, batch) =>
  product('hessian', spec, params, v, x, y, batch, new Float64Array(params.length));

/** G v = J^T H_out J v, summed over the batch (float32 in and out). */
export const gaussNewtonVector: Product<Float32Array> = (spec, params, v, x, y, batch) =>
  product('gauss-newton', spec, params, v, x, y, batch, new Float32Array(params.length));

/** gaussNewtonVector in float64. */
export const gaussNewtonVector64: Product<Float64Array> = (spec, params, v, x, y, batch) =>
  product('gauss-newton', spec, params, v, x, y, batch, new Float64Array(params.length));

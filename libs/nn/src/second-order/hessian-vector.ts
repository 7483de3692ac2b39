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
export function hessianVector(
  spec: NetworkSpec,
  params: Float32Array,
  v: Float32Array,
  x: Float32Array,
  y: Float32Array,
  batch: number,
): Float32Array {
  return product('hessian', spec, params, v, x, y, batch, new Float32Array(params.length));
}

/** hessianVector in float64. */
export function hessianVector64(
  spec: NetworkSpec,
  params: Float64Array,
  v: Float64Array,
  x: Float64Array,
  y: Float64Array,
  batch: number,
): Float64Array {
  return product('hessian', spec, params, v, x, y, batch, new Float64Array(params.length));
}

/** G v = J^T H_out J v, summed over the batch (float32 in and out). */
export function gaussNewtonVector(
  spec: NetworkSpec,
  params: Float32Array,
  v: Float32Array,
  x: Float32Array,
  y: Float32Array,
  batch: number,
): Float32Array {
  return product('gauss-newton', spec, params, v, x, y, batch, new Float32Array(params.length));
}

/** gaussNewtonVector in float64. */
export function gaussNewtonVector64(
  spec: NetworkSpec,
  params: Float64Array,
  v: Float64Array,
  x: Float64Array,
  y: Float64Array,
  batch: number,
): Float64Array {
  return product('gauss-newton', spec, params, v, x, y, batch, new Float64Array(params.length));
}

import { CurvatureNetwork, outputUnits } from '@nnq/nn';
import type { CurvatureRequest } from './compute-messages';

/** Points a compute thread keeps: a CG solve makes many products at one point. */
const MAX_POINTS = 8;

/**
 * A compute thread's curvature points: each shard's CurvatureNetwork after its forward pass at a
 * point (setPoint), by point key, oldest first. The point's parameters and rows come with every
 * request; they are read only when the point is not kept (setPoint copies them, so the buffers go
 * back). G v is libs/nn's float64 R-operator, the code trainSecondOrder runs: the same bytes.
 */
export class CurvaturePoints {
  private readonly nets = new Map<string, CurvatureNetwork>();

  constructor(private readonly max = MAX_POINTS) {}

  /** Point keys kept, oldest first. */
  get kept(): string[] {
    return [...this.nets.keys()];
  }

  /** G v of the request's shard, summed over its rows, written over `req.vector` (float64 LE, as v came). */
  product(req: CurvatureRequest): void {
    const n = req.paramCount;
    if (req.vector.byteLength !== n * 8) {
      throw new RangeError(
        `curvature ${req.pointKey}: direction has ${req.vector.byteLength} bytes, expected ${n * 8}`,
      );
    }
    const net = this.pointOf(req);
    const bytes = new DataView(req.vector);
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) v[i] = bytes.getFloat64(i * 8, true);
    const gv = net.gaussNewtonVector(v, new Float64Array(n));
    for (let i = 0; i < n; i++) bytes.setFloat64(i * 8, gv[i], true);
  }

  /** The kept network of the point, or a new one whose forward pass runs now. */
  private pointOf(req: CurvatureRequest): CurvatureNetwork {
    const kept = this.nets.get(req.pointKey);
    if (kept) return kept;
    const { spec, batch, buffers: b } = req;
    const net = new CurvatureNetwork(spec);
    const x = b.x.subarray(0, batch * spec.inputSize);
    const y = b.y.subarray(0, batch * outputUnits(spec));
    net.setPoint(b.params.subarray(0, req.paramCount), x, y, batch);
    this.nets.set(req.pointKey, net);
    while (this.nets.size > this.max) this.nets.delete(this.nets.keys().next().value!);
    return net;
  }
}

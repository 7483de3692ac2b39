import type { NetworkSpec, ParamLayout } from '@nnq/nn';
import { buildCurvatureGraph, type CurvatureGraph, type CurvatureKind } from './hessian-graph';
import { SessionCache, type OrtTensor, type SessionConfig } from './ort';
import { INPUT_X, INPUT_Y } from './training-graph';

/**
 * Compiled curvature-vector products of one network (hessian-graph.ts): H v or G v of one batch,
 * one graph and one cached onnxruntime session per batch size, float32, parameters and the
 * direction fed as zero-copy views of their flat vectors, the product written into the flat layout.
 */
export class OnnxCurvature {
  readonly layout: ParamLayout;
  private readonly graphs = new Map<number, CurvatureGraph>();
  private readonly cache: SessionCache;

  constructor(
    readonly spec: NetworkSpec,
    readonly kind: CurvatureKind,
    options: SessionConfig = {},
  ) {
    this.layout = this.graph(1).layout;
    this.cache = new SessionCache(options, (batch) => this.graph(batch).model);
  }

  graph(batch: number): CurvatureGraph {
    let g = this.graphs.get(batch);
    if (!g) {
      g = buildCurvatureGraph(this.spec, batch, this.kind);
      this.graphs.set(batch, g);
    }
    return g;
  }

  /** H v (or G v) summed over the batch, in the flat layout. */
  async run(
    params: Float32Array,
    v: Float32Array,
    x: Float32Array,
    y: Float32Array,
    batch: number,
  ): Promise<Float32Array> {
    const { layout } = this;
    const K = layout.widths[layout.widths.length - 1];
    for (const [name, arr, n] of [
      ['params', params, layout.size],
      ['v', v, layout.size],
      ['x', x, batch * layout.widths[0]],
      ['y', y, batch * K],
    ] as const) {
      if (arr.length !== n) throw new RangeError(`${name} has ${arr.length} values, needs ${n}`);
    }
    const out = new Float32Array(layout.size);
    const g = this.graph(batch);
    return this.cache.use(batch, async (session, { Tensor }) => {
      const feeds: Record<string, OrtTensor> = {
        [INPUT_X]: new Tensor('float32', x, [batch, layout.widths[0]]),
        [INPUT_Y]: new Tensor('float32', y, [batch, K]),
      };
      const fetches: Record<string, OrtTensor> = {};
      for (const s of g.slots) {
        feeds[s.name] = new Tensor('float32', params.subarray(s.offset, s.offset + s.size), s.dims);
        feeds[`v_${s.name}`] = new Tensor('float32', v.subarray(s.offset, s.offset + s.size), s.dims);
        fetches[`${s.name}_hv`] = new Tensor('float32', out.subarray(s.offset, s.offset + s.size), s.dims);
      }
      await session.run(feeds, fetches);
      return out;
    });
  }

  dispose(): Promise<void> {
    return this.cache.dispose();
  }
}

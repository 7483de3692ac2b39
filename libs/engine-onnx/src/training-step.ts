import type { NetworkSpec, ParamLayout } from '@nnq/nn';
import { SessionCache, type OrtSession, type OrtTensor, type SessionConfig } from './ort';
import {
  INPUT_PARAMS,
  INPUT_X,
  INPUT_Y,
  OUTPUT_CORRECT,
  OUTPUT_GRAD,
  OUTPUT_LOSS,
  buildTrainingGraph,
  type ParamFeed,
  type TrainingGraph,
} from './training-graph';

/** Loss and gradient of one batch. */
export interface StepResult {
  /** J summed over the batch. */
  readonly loss: number;
  /** Correctly classified samples (0 for regression losses). */
  readonly correct: number;
  /** dJ/dparams summed over the batch, in libs/nn's flat layout. */
  readonly grad: Float32Array;
}

export interface TrainingStepOptions extends SessionConfig {
  /** How parameters are fed (default 'views'; 'flat' exists to measure the alternative). */
  readonly feed?: ParamFeed;
  /** Sessions kept per step (one per batch size), least recently used out; default 8. */
  readonly maxSessions?: number;
}

/**
 * A compiled training step of one network: one ONNX graph per batch size, one cached
 * onnxruntime session per graph.
 *
 * Parameters are fed as per-layer tensors that are zero-copy views of the flat Float32Array, and
 * the gradient outputs are pre-allocated views of the flat gradient, so onnxruntime writes the
 * gradient straight into the wire layout.
 */
export class OnnxTrainingStep {
  readonly layout: ParamLayout;
  private readonly graphs = new Map<number, TrainingGraph>();
  private readonly cache: SessionCache;

  constructor(
    readonly spec: NetworkSpec,
    readonly options: TrainingStepOptions = {},
  ) {
    this.layout = this.graph(1).layout;
    this.cache = new SessionCache(options, (batch) => this.graph(batch).model, options.maxSessions);
  }

  /** The training graph for one batch size (built once). */
  graph(batch: number): TrainingGraph {
    let g = this.graphs.get(batch);
    if (!g) {
      g = buildTrainingGraph(this.spec, batch, this.options.feed);
      this.graphs.set(batch, g);
      if (this.graphs.size > 16) this.graphs.delete(this.graphs.keys().next().value!);
    }
    return g;
  }

  /** Load onnxruntime and create the session for `batch` now (rejects where either fails). */
  session(batch: number): Promise<OrtSession> {
    return this.cache.get(batch);
  }

  /**
   * Loss, correct count and summed gradient of one batch.
   * x: [batch, inputSize] row-major; y: [batch, K]; grad (optional) receives the gradient.
   */
  async run(
    params: Float32Array,
    x: Float32Array,
    y: Float32Array,
    batch: number,
    grad?: Float32Array,
  ): Promise<StepResult> {
    const { layout } = this;
    const K = layout.widths[layout.widths.length - 1];
    checkLength('params', params, layout.size);
    checkLength('x', x, batch * layout.widths[0], `batch ${batch} x inputSize ${layout.widths[0]}`);
    checkLength('y', y, batch * K, `batch ${batch} x ${K} outputs`);
    const out = grad ?? new Float32Array(layout.size);
    checkLength('grad', out, layout.size);

    const g = this.graph(batch);
    return this.cache.use(batch, async (session, { Tensor }) => {
      const feeds: Record<string, OrtTensor> = {
        [INPUT_X]: new Tensor('float32', x, [batch, layout.widths[0]]),
        [INPUT_Y]: new Tensor('float32', y, [batch, K]),
      };
      const fetches: Record<string, OrtTensor | null> = { [OUTPUT_LOSS]: null };
      if (g.hasCorrect) fetches[OUTPUT_CORRECT] = null;
      if (g.feed === 'flat') {
        feeds[INPUT_PARAMS] = new Tensor('float32', params, [params.length]);
        fetches[OUTPUT_GRAD] = new Tensor('float32', out, [out.length]);
      } else {
        for (const s of g.slots) {
          feeds[s.name] = new Tensor('float32', params.subarray(s.offset, s.offset + s.size), s.dims);
          fetches[`${s.name}_grad`] = new Tensor('float32', out.subarray(s.offset, s.offset + s.size), s.dims);
        }
      }
      const r = await session.run(feeds, fetches);
      const loss = (r[OUTPUT_LOSS].data as Float32Array)[0];
      const correct = g.hasCorrect ? (r[OUTPUT_CORRECT].data as Float32Array)[0] : 0;
      return { loss, correct, grad: out };
    });
  }

  /** Release every session; idempotent. */
  dispose(): Promise<void> {
    return this.cache.dispose();
  }
}

/** Compile a network spec into a training step (graphs and sessions are created lazily per batch size). */
export function compileTrainingStep(spec: NetworkSpec, options: TrainingStepOptions = {}): OnnxTrainingStep {
  return new OnnxTrainingStep(spec, options);
}

export function checkLength(what: string, v: Float32Array, n: number, detail?: string): void {
  if (!(v instanceof Float32Array)) throw new TypeError(`${what} must be a Float32Array`);
  if (v.length !== n) {
    throw new RangeError(`${what} has ${v.length} values, expected ${n}${detail ? ` (${detail})` : ''}`);
  }
}

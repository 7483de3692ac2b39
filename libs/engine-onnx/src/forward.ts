import { paramLayout, type NetworkSpec, type ParamLayout } from '@nnq/nn';
import { GraphBuilder, type Dim } from './graph';
import { emitForward, maskOf } from './network';
import { SessionCache, type OrtTensor, type SessionConfig } from './ort';
import { checkLength, type TrainingStepOptions } from './training-step';
import { flatSlots } from './training-graph';

export const FORWARD_INPUT = 'input';
export const FORWARD_OUTPUT = 'output';

/** Per-feature affine preprocessing folded into an exported model: x' = x * mul + add. */
export interface Preprocess {
  readonly mul: Float32Array;
  readonly add: Float32Array;
}

export interface ExportOptions {
  readonly preprocess?: Preprocess;
  /** Free-text description stored in the model's doc_string. */
  readonly docString?: string;
}

/**
 * The inference graph: input [batch, inputSize] -> output h(L) [batch, K].
 * Parameters are graph inputs kernel_n / bias_n (predict) or initializers (export).
 */
function buildForwardGraph(
  spec: NetworkSpec,
  layout: ParamLayout,
  batch: Dim,
  weights: Float32Array | null,
  preprocess?: Preprocess,
): GraphBuilder {
  const g = new GraphBuilder('nnq_forward');
  let x = g.input(FORWARD_INPUT, [batch, spec.inputSize]);
  if (preprocess) {
    checkLength('preprocess.mul', preprocess.mul, spec.inputSize, 'one factor per input feature');
    checkLength('preprocess.add', preprocess.add, spec.inputSize, 'one offset per input feature');
    // x' = x * mul + add, per feature
    const mul = g.initializer('preprocess_mul', preprocess.mul, [spec.inputSize]);
    const add = g.initializer('preprocess_add', preprocess.add, [spec.inputSize]);
    x = g.op('Add', [g.op('Mul', [x, mul]), add]);
  }
  const slots = flatSlots(layout);
  if (weights) {
    // standalone model: weights as initializers, masks folded into the kernels
    for (const s of slots) {
      const v = weights.slice(s.offset, s.offset + s.size);
      const n = Number(s.name.slice(s.name.indexOf('_') + 1));
      const m = s.name.startsWith('kernel_') ? maskOf(spec, n) : null;
      if (m) for (let i = 0; i < v.length; i++) v[i] *= m[i];
      g.initializer(s.name, v, s.dims);
    }
  } else {
    for (const s of slots) g.input(s.name, s.dims);
  }
  const fwd = emitForward(g, spec, layout, x, {
    kernel: (n) => {
      const m = weights ? null : maskOf(spec, n);
      const l = layout.layers[n - 1];
      return m ? g.op('Mul', [`kernel_${n}`, g.initializer(`mask_${n}`, m, [l.fanIn, l.units])]) : `kernel_${n}`;
    },
    bias: (n) => (layout.layers[n - 1].biasOffset >= 0 ? `bias_${n}` : null),
  });
  const L = layout.layers.length;
  g.op('Identity', [fwd.h[L].name], {}, FORWARD_OUTPUT);
  g.output(FORWARD_OUTPUT, [batch, layout.widths[L]]);
  return g;
}

/** The inference graph of `spec` for one batch size, parameters as inputs (kernel_n, bias_n). */
export function buildForwardModel(spec: NetworkSpec, batch: number): Uint8Array {
  return buildForwardGraph(spec, paramLayout(spec), batch, null).toModel(`forward, batch ${batch}`);
}

/**
 * A standalone ONNX model of the trained network: input `input` [batch, inputSize] (batch is
 * symbolic), output `output` [batch, K] = h(L) (probabilities for a softmax or sigmoid output).
 * Weights are initializers (masks folded in); optional preprocessing x * mul + add comes first.
 */
export function exportOnnx(spec: NetworkSpec, params: Float32Array, options: ExportOptions = {}): Uint8Array {
  const layout = paramLayout(spec);
  checkLength('params', params, layout.size);
  const g = buildForwardGraph(spec, layout, 'batch', params, options.preprocess);
  return g.toModel(options.docString ?? 'nnq network');
}

/** A compiled inference graph: sessions cached per batch size, parameters fed as views. */
export class OnnxForward {
  readonly layout: ParamLayout;
  private readonly cache: SessionCache;

  constructor(
    readonly spec: NetworkSpec,
    options: TrainingStepOptions = {},
  ) {
    this.layout = paramLayout(spec);
    this.cache = new SessionCache(options, (batch) => buildForwardModel(spec, batch), options.maxSessions);
  }

  /** h(L) for `batch` rows of x, [batch, K] row-major. */
  async run(params: Float32Array, x: Float32Array, batch: number): Promise<Float32Array> {
    const { layout } = this;
    checkLength('params', params, layout.size);
    checkLength('x', x, batch * layout.widths[0], `batch ${batch} x inputSize ${layout.widths[0]}`);
    return this.cache.use(batch, async (session, { Tensor }) => {
      const feeds: Record<string, OrtTensor> = {
        [FORWARD_INPUT]: new Tensor('float32', x, [batch, layout.widths[0]]),
      };
      for (const s of flatSlots(layout)) {
        feeds[s.name] = new Tensor('float32', params.subarray(s.offset, s.offset + s.size), s.dims);
      }
      const r = await session.run(feeds);
      return r[FORWARD_OUTPUT].data as Float32Array;
    });
  }

  dispose(): Promise<void> {
    return this.cache.dispose();
  }
}

export function compileForward(spec: NetworkSpec, options: TrainingStepOptions = {}): OnnxForward {
  return new OnnxForward(spec, options);
}

/** One-shot prediction (compiles, runs, releases); keep an OnnxForward for repeated calls. */
export async function predict(
  spec: NetworkSpec,
  params: Float32Array,
  x: Float32Array,
  batch: number,
  options: SessionConfig = {},
): Promise<Float32Array> {
  const f = compileForward(spec, options);
  try {
    return await f.run(params, x, batch);
  } finally {
    await f.dispose();
  }
}

import { gatherBatch, type Batch, type Dataset, type Splits, type Preprocessing } from '@nnq/data';
import {
  CurvatureNetwork,
  hutchinsonTrace,
  paramLayout,
  topEigenvalue,
  type NetworkSpec,
  type ParamLayout,
} from '@nnq/nn';
import { z } from 'zod';

/**
 * Curvature as a signal (issue #20): at each evaluation a run with `evaluation.curvature` records
 * the top Hessian eigenvalue (power iteration on H v, `iterations` products from a seeded start)
 * and Hutchinson's trace estimate (`probes` seeded Rademacher probes) of the TRAINING loss J/rows
 * (the mean loss, as the step's loss is) on a fixed batch: the first `rows` rows of the train
 * split, in split order, preprocessed as the run's shards are. H v is libs/nn's exact R-operator
 * product in float64 (second-order/curvature-network.ts), so the numbers are a function of the
 * parameters, the batch and the seeds alone: the same in-process and on any number of workers.
 *
 * Cost of one evaluation: (iterations + probes) products, each about 4 passes over the batch
 * (forward, R-forward, backward, R-backward), so rows x multiplyAddsPerRow a few times over.
 * The work of one product and of one evaluation and the float64 workspace are capped here at
 * submission (curvatureProblems). Measured (node, load average 16 on 2 cores): a product at the
 * product cap takes 107 ms (784-128-10, 164 rows) to 222 ms (784-512-512-10, 25 rows).
 */

const int = z.number().int('must be an integer');

/** Fixed maxima of evaluation.curvature. */
export const CURVATURE_LIMITS = {
  iterations: 64,
  probes: 64,
  rows: 2048,
  /** rows x multiply-adds per row (multiplyAddsPerRow) of one product. */
  productWork: 1 << 24,
  /** (iterations + probes) x rows x multiply-adds per row: one evaluation (16 products at the product cap). */
  evaluationWork: 1 << 28,
  /** The products' workspace (activations and their R-terms per row, parameter vectors, the batch). */
  workspaceBytes: 128 << 20,
} as const;

/** evaluation.curvature of a run config; absent: no curvature is computed. */
export const CurvatureConfigSchema = z
  .object({
    /** H v products of the power iteration for the top eigenvalue. */
    iterations: int
      .min(1, 'must be at least 1')
      .max(CURVATURE_LIMITS.iterations, `must be at most ${CURVATURE_LIMITS.iterations}`)
      .default(20),
    /** Rademacher probes of Hutchinson's trace estimate (one H v each). */
    probes: int
      .min(1, 'must be at least 1')
      .max(CURVATURE_LIMITS.probes, `must be at most ${CURVATURE_LIMITS.probes}`)
      .default(10),
    /** Rows of the fixed batch: the first ones of the train split (all of it when it is smaller). */
    rows: int
      .min(1, 'must be at least 1')
      .max(CURVATURE_LIMITS.rows, `must be at most ${CURVATURE_LIMITS.rows}`)
      .default(256),
  })
  .strict();
export type CurvatureConfig = z.output<typeof CurvatureConfigSchema>;

/** One evaluation's curvature numbers (the evaluation entry's optional fields). */
export interface CurvatureSignal {
  hessianTopEigenvalue: number;
  hessianTrace: number;
}

/**
 * Why a run cannot have evaluation.curvature (message by path, for the run config's refinement):
 * products whose work (one, or all of an evaluation) or workspace is past CURVATURE_LIMITS. Dense,
 * conv, pooling and flatten layers all have their R-passes in libs/nn.
 */
export function curvatureProblems(model: NetworkSpec, c: CurvatureConfig): Array<{ path: string[]; message: string }> {
  const layout = paramLayout(model);
  const perRow = multiplyAddsPerRow(layout);
  const work = c.rows * perRow;
  if (work > CURVATURE_LIMITS.productWork) {
    const most = Math.max(1, Math.floor(CURVATURE_LIMITS.productWork / perRow));
    const message =
      `${c.rows} rows x ${perRow} multiply-adds per row is past the ${CURVATURE_LIMITS.productWork} of one ` +
      `product (at most ${most} rows for this model)`;
    return [{ path: ['evaluation', 'curvature', 'rows'], message }];
  }
  const products = c.iterations + c.probes;
  if (products * work > CURVATURE_LIMITS.evaluationWork) {
    const message =
      `(iterations + probes) x rows x multiply-adds per row = ${products} x ${c.rows} x ${perRow} is past the ` +
      `${CURVATURE_LIMITS.evaluationWork} of one evaluation: fewer products or rows`;
    return [{ path: ['evaluation', 'curvature'], message }];
  }
  const bytes = workspaceBytes(layout, c.rows);
  if (bytes > CURVATURE_LIMITS.workspaceBytes) {
    const most = mib(CURVATURE_LIMITS.workspaceBytes);
    const message = `needs about ${mib(bytes)} MiB of float64 workspace, at most ${most}`;
    return [{ path: ['evaluation', 'curvature', 'rows'], message }];
  }
  return [];
}

/**
 * Multiply-adds of one row's forward pass (a product makes a few passes of this size): dense
 * fanIn x units, conv every output cell's fanIn x filters, pooling one per window cell, flatten
 * none. For a dense network it is the kernels' size, a little under the parameter count.
 */
export function multiplyAddsPerRow(layout: ParamLayout): number {
  return layout.layers.reduce((n, l) => {
    const cells = l.window ? l.window.outH * l.window.outW : 1;
    if (l.kind === 'dense' || l.kind === 'conv2d') return n + cells * l.fanIn * l.units;
    return n + (l.window ? cells * l.window.outC * l.window.kh * l.window.kw : 0);
  }, 0);
}

/**
 * Bytes of the products for `rows` rows: CurvatureNetwork's float64 arrays (h and R h of the input
 * and every layer, a, R a, dJ/dh and its R-term and a scratch of every layer's flat width, x and R x
 * of a skip's layer and their deltas, three of the output's width; four of the parameters and two
 * of a conv's im2col per sample), max-pooling's int32 arg-max per cell, and the float32 batch.
 */
function workspaceBytes(layout: ParamLayout, rows: number): number {
  const { layers, widths, size } = layout;
  const K = widths[widths.length - 1];
  let perRow = 2 * widths[0] + 3 * K;
  let cols = 0;
  for (const l of layers) {
    const w = widths[l.index];
    const xw = l.skip ? widths[l.index - 1] + widths[l.skip.from] : 0;
    perRow += 7 * w + 4 * xw + (l.kind === 'maxPool2d' ? w / 2 : 0);
    if (l.kind === 'conv2d' && l.window) cols = Math.max(cols, l.window.outH * l.window.outW * l.fanIn);
  }
  return 8 * (rows * perRow + 4 * size + 2 * cols) + 4 * rows * (widths[0] + K);
}

const mib = (bytes: number) => Math.ceil(bytes / (1 << 20));

/** The fixed batch of a run's curvature: the first `rows` train rows in split order, preprocessed. */
export function curvatureBatch(
  dataset: Dataset,
  splits: Splits,
  preprocessing: Preprocessing,
  c: CurvatureConfig,
): Batch | undefined {
  const train = splits.train;
  if (train.length === 0) return undefined;
  return gatherBatch(dataset, train.subarray(0, Math.min(c.rows, train.length)), preprocessing);
}

/** Seeds of the power iteration's start and of the probes, fixed by the run's seed. */
function seeds(seed: number): { eigen: number; trace: number } {
  return { eigen: (seed ^ 0x6a09e667) >>> 0, trace: (seed ^ 0xbb67ae85) >>> 0 };
}

/**
 * The top eigenvalue and trace estimate of the Hessian of the mean loss on `batch` at `params`.
 * Yields to the event loop between products (the coordinator computes it between steps).
 */
export async function curvatureSignal(
  net: CurvatureNetwork,
  params: Float32Array,
  batch: Batch,
  c: CurvatureConfig,
  seed: number,
): Promise<CurvatureSignal> {
  net.setPoint(params, batch.x, batch.y, batch.rows);
  const size = params.length;
  const hv = new Float64Array(size);
  // H of J/rows: the products are summed over the batch
  const product = async (v: Float64Array) => {
    await new Promise<void>((resolve) => setImmediate(resolve));
    net.hessianVector(v, hv);
    for (let i = 0; i < size; i++) hv[i] /= batch.rows;
    return hv;
  };
  const s = seeds(seed);
  const top = await topEigenvalue(product, size, c.iterations, s.eigen);
  const trace = await hutchinsonTrace(product, size, c.probes, s.trace);
  return { hessianTopEigenvalue: top.value, hessianTrace: trace };
}

/**
 * A run's curvature hook: one CurvatureNetwork (its workspaces reused) and the run's fixed batch.
 * `once` computes the numbers at the first evaluation of a version and nothing at the others
 * (validation and test after the last step share one); a non-finite number is left out (JSON
 * has no NaN; the run's loss says what went wrong).
 */
export class RunCurvature {
  private readonly net: CurvatureNetwork;
  private last = -1;

  constructor(
    spec: NetworkSpec,
    private readonly batch: Batch,
    private readonly config: CurvatureConfig,
    private readonly seed: number,
  ) {
    this.net = new CurvatureNetwork(spec);
  }

  /** Whether `once` computes at this version (no evaluation of it has had the numbers yet). */
  due(version: number): boolean {
    return version !== this.last;
  }

  async once(version: number, params: Float32Array): Promise<Partial<CurvatureSignal>> {
    if (!this.due(version)) return {};
    this.last = version;
    const signal = await curvatureSignal(this.net, params, this.batch, this.config, this.seed);
    const out: Partial<CurvatureSignal> = {};
    if (Number.isFinite(signal.hessianTopEigenvalue)) out.hessianTopEigenvalue = signal.hessianTopEigenvalue;
    if (Number.isFinite(signal.hessianTrace)) out.hessianTrace = signal.hessianTrace;
    return out;
  }
}

/** The curvature hook of a run with evaluation.curvature (and a non-empty train split), else null. */
export function curvatureHook(
  config: { seed: number; model: NetworkSpec; evaluation: { curvature?: CurvatureConfig } },
  setup: { curvatureBatch?: Batch },
): RunCurvature | null {
  const c = config.evaluation.curvature;
  if (!c || !setup.curvatureBatch) return null;
  return new RunCurvature(config.model, setup.curvatureBatch, c, config.seed);
}

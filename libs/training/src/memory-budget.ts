import { isDense, OPTIMIZER_SLOTS, paramLayout, type NetworkSpec } from '@nnq/nn';
import type { RunConfig } from './run-config';

/**
 * Memory estimates of a run, checked at submission before anything is allocated (issue #24): a
 * network whose tensors cannot fit is refused by the path of its biggest layer, instead of taking
 * down every worker that picks up its shard, or the coordinator. Pure arithmetic on the config;
 * the formulas are in docs/faults.md ("Memory budgets").
 */

export const MB = 1 << 20;

/** Default budgets (MB): what one shard job of a worker, and the coordinator's run state, may use. */
export const DEFAULT_WORKER_MEMORY_MB = 2048;
export const DEFAULT_COORDINATOR_MEMORY_MB = 2048;

/** Most memory a prediction request's forward pass may take (`POST /runs/:id/predict`, `nnq predict`). */
export const PREDICT_MEMORY_BYTES = 512 * MB;

/**
 * Float32 copies of the parameters a worker holds for one shard: three cached versions, the Redis
 * reply, the compute buffers' parameters and gradient (two sets kept per thread), the thread's own
 * copy, the engine's gradient output and two encoded results.
 */
export const WORKER_PARAM_COPIES = 12;
/**
 * Float32 copies of the parameters the coordinator holds for a run, besides the optimizer state:
 * parameters, gradient sum, four shard results in flight, the published blob and the model file.
 * The optimizer state counts twice (held, and serialised into a checkpoint).
 */
export const COORDINATOR_PARAM_COPIES = 8;
/**
 * Bytes a unit of a layer costs per row: the reference engine keeps h(n), a(n) and dJ/dh(n) in
 * float64 (24 bytes); the ONNX engine keeps a(n) and h(n) for the backward pass and forms
 * delta(n) and f'(a(n)) in float32 (16). The larger of the two.
 */
export const BYTES_PER_UNIT_ROW = 24;

export interface MemoryBudgets {
  workerMb: number;
  coordinatorMb: number;
}

/** A worker's biggest shard job: a gradient shard or an evaluation shard, whichever needs more. */
export interface ShardEstimate {
  kind: 'gradient' | 'evaluation';
  rows: number;
  /** Bytes of activations and deltas (rows x units of every layer x BYTES_PER_UNIT_ROW). */
  activations: number;
  /** Bytes of the parameter copies (WORKER_PARAM_COPIES x 4 x P). */
  params: number;
  total: number;
}

export interface MemoryEstimate {
  paramCount: number;
  worker: ShardEstimate;
  /** The coordinator's bytes for the run: parameter copies and optimizer state. */
  coordinator: { params: number; optimizer: number; total: number };
  /** k of `model.layers[k]`, the layer that holds the most of the worker's estimate. */
  biggestLayer: number;
}

/** Units per row of a forward and backward pass: every h(n) (a conv layer's every cell), plus a concat skip's input. */
function unitsPerRow(spec: NetworkSpec): { total: number; perLayer: number[] } {
  const layout = paramLayout(spec);
  const perLayer = layout.layers.map((l) => layout.widths[l.index] + (l.skip?.mode === 'concat' ? l.fanIn : 0));
  return { total: spec.inputSize + perLayer.reduce((a, b) => a + b, 0), perLayer };
}

/** A worker's bytes for one shard job of `rows` rows. */
export function estimateShardMemory(spec: NetworkSpec, kind: ShardEstimate['kind'], rows: number): ShardEstimate {
  const activations = rows * unitsPerRow(spec).total * BYTES_PER_UNIT_ROW;
  const params = WORKER_PARAM_COPIES * 4 * paramLayout(spec).size;
  return { kind, rows, activations, params, total: activations + params };
}

/** The estimate of a run config (no dataset needed: evaluation shards count at their full size). */
export function estimateRunMemory(
  config: Pick<RunConfig, 'model' | 'batchSize' | 'shards' | 'optimizer' | 'evaluation'>,
): MemoryEstimate {
  const layout = paramLayout(config.model);
  const P = layout.size;
  const units = unitsPerRow(config.model);
  const gradient = estimateShardMemory(config.model, 'gradient', Math.ceil(config.batchSize / config.shards));
  const evaluation = estimateShardMemory(config.model, 'evaluation', config.evaluation.rowsPerShard);
  const worker = evaluation.total > gradient.total ? evaluation : gradient;
  const slots = OPTIMIZER_SLOTS[config.optimizer.type].length;
  const optimizer = 2 * slots * 4 * P;
  const coordinatorParams = COORDINATOR_PARAM_COPIES * 4 * P;
  // the layer with the most bytes of the worker's estimate: its rows x units and its parameters
  const share = layout.layers.map(
    (l, k) =>
      worker.rows * units.perLayer[k] * BYTES_PER_UNIT_ROW + WORKER_PARAM_COPIES * 4 * (l.kernelSize + l.biasSize),
  );
  const biggestLayer = share.indexOf(Math.max(...share));
  return {
    paramCount: P,
    worker,
    coordinator: { params: coordinatorParams, optimizer, total: coordinatorParams + optimizer },
    biggestLayer,
  };
}

/** `1,234 MB` (rounded up, so a refused estimate never reads as equal to its budget). */
export function formatMb(bytes: number): string {
  return `${Math.ceil(bytes / MB).toLocaleString('en-US')} MB`;
}

/**
 * `path: message` lines for a run config over a budget (empty when it fits), each naming the
 * estimate, the budget and its variable, and the biggest layer's path.
 */
export function memoryBudgetProblems(
  config: Pick<RunConfig, 'model' | 'batchSize' | 'shards' | 'optimizer' | 'evaluation'>,
  budgets: MemoryBudgets,
): string[] {
  const e = estimateRunMemory(config);
  const k = e.biggestLayer;
  const widths = paramLayout(config.model).widths;
  // a dense layer by its units, a conv or pooling layer by itself (its output counts every cell)
  const layerPath = (j: number) => `model.layers[${j}]${isDense(config.model.layers[j]) ? '.units' : ''}`;
  const size = (j: number) => `${widths[j + 1]} ${isDense(config.model.layers[j]) ? 'units' : 'values per row'}`;
  const path = layerPath(k);
  const problems: string[] = [];
  const w = e.worker;
  if (w.total > budgets.workerMb * MB) {
    const fix = w.kind === 'gradient' ? 'raise shards or lower batchSize' : 'lower evaluation.rowsPerShard';
    const parts = `activations ${formatMb(w.activations)}, parameters ${formatMb(w.params)}`;
    const need = `a ${w.rows}-row ${w.kind} shard needs about ${formatMb(w.total)} (${w.total} bytes: ${parts})`;
    const budget = `over its budget of ${formatMb(budgets.workerMb * MB)} (NNQ_WORKER_MEMORY_MB)`;
    const biggest = `the biggest layer is model.layers[${k}] (${size(k)})`;
    problems.push(`${path}: ${need} on a worker, ${budget}; ${biggest}: ${fix}, or make it smaller`);
  }
  const c = e.coordinator;
  if (c.total > budgets.coordinatorMb * MB) {
    // here the biggest layer is the one with the most parameters
    const sizes = paramLayout(config.model).layers.map((l) => l.kernelSize + l.biasSize);
    const j = sizes.indexOf(Math.max(...sizes));
    const parts = `parameter copies ${formatMb(c.params)}, ${config.optimizer.type} state ${formatMb(c.optimizer)}`;
    const total = `${formatMb(c.total)} (${c.total} bytes: ${parts})`;
    const need = `the network's ${e.paramCount} parameters need about ${total}`;
    const budget = `over its budget of ${formatMb(budgets.coordinatorMb * MB)} (NNQ_COORDINATOR_MEMORY_MB)`;
    const biggest = `the biggest layer is model.layers[${j}] (${sizes[j]} parameters, ${size(j)})`;
    problems.push(`${layerPath(j)}: ${need} on the coordinator, ${budget}; ${biggest}`);
  }
  return problems;
}

/**
 * Bytes a forward pass of `rows` rows takes on the reference network (predictions): float64 h(n),
 * a(n) and dJ/dh(n) workspaces of every layer, and its float64 copies of the parameters.
 */
export function predictMemoryBytes(spec: NetworkSpec, rows: number): number {
  return rows * unitsPerRow(spec).total * BYTES_PER_UNIT_ROW + 2 * 8 * paramLayout(spec).size;
}

/** Why `rows` rows are too many to predict at once with `spec`, or null when they fit. */
export function predictBudgetProblem(spec: NetworkSpec, rows: number): string | null {
  const bytes = predictMemoryBytes(spec, rows);
  if (bytes <= PREDICT_MEMORY_BYTES) return null;
  const widest = Math.max(...paramLayout(spec).widths.slice(1));
  const total = `${formatMb(bytes)} (${bytes} bytes)`;
  const need = `${rows} rows through layers up to ${widest} units wide need about ${total}`;
  const budget = `over the ${formatMb(PREDICT_MEMORY_BYTES)} a prediction may use`;
  return `inputs: ${need}, ${budget}: send fewer rows per request`;
}

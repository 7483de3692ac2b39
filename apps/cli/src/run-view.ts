import { RunRecordSchema, WorkerInfoSchema, type Evaluation, type LayerSummaryView } from '@nnq/protocol';
import { z } from 'zod';
import { formatDuration, formatLoss, formatPercent, formatRate } from './progress';

/** Evaluation of a split, as GET /runs/:id shows it. */
export type EvaluationView = Evaluation;

/**
 * The fields of the contract's RunRecord the CLI reads, checked on every answer (GET /runs,
 * GET /runs/:id, POST /runs); `nnq train --local` builds one too, without a creation time or shards.
 */
export const RunViewSchema = RunRecordSchema.pick({
  id: true,
  name: true,
  state: true,
  createdAt: true,
  startedAt: true,
  finishedAt: true,
  step: true,
  totalSteps: true,
  epoch: true,
  epochs: true,
  batchSize: true,
  shards: true,
  loss: true,
  accuracy: true,
  validation: true,
  test: true,
  model: true,
  samplesPerSecond: true,
  etaSeconds: true,
  error: true,
  stopped: true,
}).partial({ createdAt: true, batchSize: true, shards: true });
export type RunView = z.infer<typeof RunViewSchema>;
export const RunViewListSchema = z.array(RunViewSchema);

/** A live worker as GET /workers shows it: the fields of the contract's WorkerInfo the CLI reads. */
export const WorkerViewSchema = WorkerInfoSchema.pick({
  id: true,
  host: true,
  pid: true,
  concurrency: true,
  version: true,
  engine: true,
  lastSeen: true,
}).partial({ engine: true });
export type WorkerView = z.infer<typeof WorkerViewSchema>;
export const WorkerViewListSchema = z.array(WorkerViewSchema);

/** Left-aligned columns, two spaces apart. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const fmt = (r: string[]) =>
    r
      .map((cell, c) => cell.padEnd(widths[c]))
      .join('  ')
      .trimEnd();
  return [fmt(header), ...rows.map(fmt)].join('\n');
}

export function formatRunTable(runs: RunView[]): string {
  if (runs.length === 0) return 'no runs';
  return formatTable(
    ['ID', 'NAME', 'STATE', 'STEP', 'LOSS', 'ACCURACY', 'SAMPLES/S'],
    runs.map((r) => [
      r.id,
      r.name,
      r.state,
      `${r.step}/${r.totalSteps}`,
      formatLoss(r.loss),
      formatPercent(r.accuracy),
      formatRate(r.state === 'running' ? r.samplesPerSecond : undefined),
    ]),
  );
}

/**
 * `validation  loss 0.0123  accuracy 97.1%  (1200 rows, step 400)`, and with evaluation.curvature
 * `  hessian top 6.011 trace 7.9`.
 */
export function formatEvaluation(e: EvaluationView, accuracy = true): string {
  const acc = accuracy ? `  accuracy ${formatPercent(e.accuracy)}` : '';
  const hessian =
    e.hessianTopEigenvalue === undefined
      ? ''
      : `  hessian top ${formatLoss(e.hessianTopEigenvalue)} trace ${formatLoss(e.hessianTrace)}`;
  return `${e.split.padEnd(10)}  loss ${formatLoss(e.loss)}${acc}  (${e.rows} rows, step ${e.step})${hessian}`;
}

export function formatRunDetail(r: RunView): string {
  const lines = [
    `run       ${r.id}`,
    `name      ${r.name}`,
    `state     ${r.state}${r.error ? ` at step ${r.error.step}: ${r.error.reason}` : ''}`,
    `step      ${r.step}/${r.totalSteps}  epoch ${Math.min(r.epoch + 1, Math.ceil(r.epochs))}/${Math.ceil(r.epochs)}`,
    `loss      ${formatLoss(r.loss)}  accuracy ${formatPercent(r.accuracy)}  (last batch)`,
  ];
  if (r.state === 'running') {
    lines.push(`speed     ${formatRate(r.samplesPerSecond)} samples/s  ETA ${formatDuration(r.etaSeconds)}`);
  }
  if (r.batchSize !== undefined) lines.push(`batch     ${r.batchSize} rows in ${r.shards ?? 1} shards`);
  if (r.validation) lines.push(formatEvaluation(r.validation));
  if (r.test) lines.push(formatEvaluation(r.test));
  if (r.model?.length) lines.push(formatModelSummary(r.model));
  if (r.createdAt) lines.push(`created   ${r.createdAt}`);
  if (r.finishedAt) lines.push(`finished  ${r.finishedAt}`);
  return lines.join('\n');
}

/** The layers of a run's network as a table under `model`, Keras' model.summary() columns and a total. */
export function formatModelSummary(layers: LayerSummaryView[]): string {
  const rows = layers.map((l) => [
    l.index === 0 ? 'input' : String(l.index),
    l.kind,
    `[${l.outputShape.join(', ')}]`,
    l.params.toLocaleString('en-US'),
  ]);
  const total = layers.reduce((s, l) => s + l.params, 0);
  const table = formatTable(
    ['LAYER', 'KIND', 'OUTPUT SHAPE', 'PARAMETERS'],
    [...rows, ['total', '', '', total.toLocaleString('en-US')]],
  );
  return table
    .split('\n')
    .map((line, i) => `${i === 0 ? 'model' : ''}`.padEnd(10) + line)
    .join('\n');
}

export function formatWorkers(workers: WorkerView[], now = Date.now()): string {
  if (workers.length === 0) return 'no live workers';
  return formatTable(
    ['WORKER', 'HOST', 'PID', 'CONCURRENCY', 'ENGINE', 'VERSION', 'LAST SEEN'],
    workers.map((w) => [
      w.id,
      w.host,
      String(w.pid),
      String(w.concurrency),
      w.engine ?? '-',
      w.version,
      `${formatDuration(Math.max(0, (now - Date.parse(w.lastSeen)) / 1000))} ago`,
    ]),
  );
}

/** The end of a run: state, where it stopped and why, and its final evaluations. */
export function formatOutcome(r: RunView, accuracy = true): string {
  const lines: string[] = [];
  if (r.state === 'completed') lines.push(`run ${r.id} (${r.name}) completed: ${r.step}/${r.totalSteps} steps`);
  else if (r.state === 'failed')
    lines.push(
      `run ${r.id} (${r.name}) failed at step ${r.error?.step ?? r.step}: ${r.error?.reason ?? 'no reason given'}`,
    );
  else lines.push(`run ${r.id} (${r.name}) ${r.state} at step ${r.step}/${r.totalSteps}`);
  // a second-order optimizer that ended the run early, as `nnq train --local` says it
  if (r.stopped) lines.push(`the optimizer stopped after step ${r.step}: ${r.stopped}`);
  const trainAccuracy = accuracy ? `  accuracy ${formatPercent(r.accuracy)}` : '';
  lines.push(`  ${'train'.padEnd(10)}  loss ${formatLoss(r.loss)}${trainAccuracy}  (last batch)`);
  for (const e of [r.validation, r.test]) if (e) lines.push(`  ${formatEvaluation(e, accuracy)}`);
  if (!r.validation && !r.test && r.state === 'completed') lines.push('  (no validation or test rows held out)');
  return lines.join('\n');
}

/** 0 completed, 1 failed, 130 cancelled. */
export function exitCodeOf(state: string): number {
  return state === 'completed' ? 0 : state === 'cancelled' ? 130 : 1;
}

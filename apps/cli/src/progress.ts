/** Pure formatting of training progress: one line per snapshot, with or without a bar. */

/** What a progress line shows; a RunRecord of the API and the local trainer both fit. */
export interface ProgressSnapshot {
  state?: string;
  /** Steps completed. */
  step: number;
  totalSteps: number;
  /** 0-based epoch of the last step. */
  epoch: number;
  /** Epochs of the run (may be fractional). */
  epochs: number;
  loss?: number;
  accuracy?: number;
  samplesPerSecond?: number;
  etaSeconds?: number;
}

export interface LineOptions {
  /** Show accuracy (false for regression runs, whose accuracy is always 0). */
  accuracy?: boolean;
  /** Bar width in characters; 0 for none. */
  bar?: number;
}

/** `12s`, `3m05s`, `2h07m`; `-` when unknown. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '-';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Four significant digits; exponent form below 0.001; `-` when unknown. */
export function formatLoss(x: number | undefined): string {
  if (x === undefined || x === null) return '-';
  if (!Number.isFinite(x)) return String(x);
  if (x !== 0 && Math.abs(x) < 1e-3) return x.toExponential(2);
  return Number(x.toPrecision(4)).toString();
}

/** `97.3%`; `-` when unknown. */
export function formatPercent(x: number | undefined): string {
  if (x === undefined || x === null || !Number.isFinite(x)) return '-';
  return `${(x * 100).toFixed(1)}%`;
}

/** `850`, `12.3k`, `1.20M`; `-` when unknown. */
export function formatRate(x: number | undefined): string {
  if (x === undefined || x === null || !Number.isFinite(x)) return '-';
  if (x < 1000) return x.toFixed(0);
  if (x < 1e6) return `${(x / 1e3).toFixed(1)}k`;
  return `${(x / 1e6).toFixed(2)}M`;
}

/** `[#####.....]`-style bar of `width` cells (plain ASCII: safe in any terminal font). */
export function formatBar(fraction: number, width: number): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]`;
}

/** One progress line: `[bar] step 120/400 (30%)  epoch 31/100  loss 0.0123  acc 95.0%  1.2k samples/s  ETA 12s`. */
export function formatProgressLine(s: ProgressSnapshot, options: LineOptions = {}): string {
  const fraction = s.totalSteps > 0 ? s.step / s.totalSteps : 0;
  const epochs = Math.max(1, Math.ceil(s.epochs - 1e-9));
  const parts = [
    `step ${s.step}/${s.totalSteps} (${Math.floor(fraction * 100)}%)`,
    `epoch ${Math.min(s.epoch + 1, epochs)}/${epochs}`,
    `loss ${formatLoss(s.loss)}`,
  ];
  if (options.accuracy !== false) parts.push(`acc ${formatPercent(s.accuracy)}`);
  parts.push(`${formatRate(s.samplesPerSecond)} samples/s`);
  parts.push(s.state && s.state !== 'running' ? s.state : `ETA ${formatDuration(s.etaSeconds)}`);
  const line = parts.join('  ');
  return options.bar ? `${formatBar(fraction, options.bar)} ${line}` : line;
}

/** Cut a line to a terminal width (a wrapped line breaks the carriage-return redraw). */
export function fitToWidth(line: string, columns: number | undefined): string {
  if (!columns || columns < 10 || line.length < columns) return line;
  return `${line.slice(0, columns - 2)}~`;
}

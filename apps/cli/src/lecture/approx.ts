import { parseSpec, type Activation, type NetworkSpec } from '@nnq/nn';
import { fitFullBatch } from './full-batch';

/**
 * Universal approximation, measured: one hidden layer of n units fitted to a 1-D function on a grid
 * of [-1, 1], for growing n. The targets, each a function of x in [-1, 1]:
 *   sin   sin(pi x)      one period
 *   abs   |x|            a kink
 *   step  0 for x < 0, 1 for x >= 0   a jump no continuous f can follow between grid points
 */
export const TARGETS = {
  sin: (x: number) => Math.sin(Math.PI * x),
  abs: (x: number) => Math.abs(x),
  step: (x: number) => (x < 0 ? 0 : 1),
} as const;
export type TargetName = keyof typeof TARGETS;
export const TARGET_NAMES = Object.keys(TARGETS) as TargetName[];

export interface ApproxOptions {
  target: TargetName;
  units: number[];
  activation: Activation;
  /** Grid points on [-1, 1] (both ends included). */
  points: number;
  steps: number;
  lr: number;
  seed: number;
}

export interface ApproxFit {
  units: number;
  /** Largest |f*(x) - f(x)| on the grid. */
  maxError: number;
  /** Root mean square of f*(x) - f(x) on the grid. */
  rmsError: number;
  /** f(x) on the grid. */
  outputs: Float32Array;
}

export interface ApproxResult {
  x: Float32Array;
  y: Float32Array;
  fits: ApproxFit[];
}

/** The 1-n-1 network: x -> n units of `activation` -> identity output, sum of squares. */
export function oneHiddenLayer(units: number, activation: Activation): NetworkSpec {
  return parseSpec({
    inputSize: 1,
    layers: [
      { units, activation },
      { units: 1, activation: 'identity' },
    ],
    loss: 'sum_of_squares',
  });
}

/** The grid x_i = -1 + 2 i / (points - 1) and f*(x_i). */
export function targetGrid(target: TargetName, points: number): { x: Float32Array; y: Float32Array } {
  const x = new Float32Array(points);
  const y = new Float32Array(points);
  for (let i = 0; i < points; i++) {
    x[i] = -1 + (2 * i) / (points - 1);
    y[i] = TARGETS[target](x[i]);
  }
  return { x, y };
}

/** Fit every width with full-batch Adam from the same seed; `onFit` hears each width as it ends. */
export function approximate(o: ApproxOptions, onFit?: (f: ApproxFit) => void): ApproxResult {
  const { x, y } = targetGrid(o.target, o.points);
  const fits = o.units.map((units) => {
    const r = fitFullBatch(
      oneHiddenLayer(units, o.activation),
      { x, y, rows: o.points },
      { seed: o.seed, steps: o.steps, optimizer: { type: 'adam', lr: o.lr } },
    );
    let max = 0;
    let sq = 0;
    for (let i = 0; i < o.points; i++) {
      const e = Math.abs(r.outputs[i] - y[i]);
      max = Math.max(max, e);
      sq += e * e;
    }
    const fit = { units, maxError: max, rmsError: Math.sqrt(sq / o.points), outputs: r.outputs };
    onFit?.(fit);
    return fit;
  });
  return { x, y, fits };
}

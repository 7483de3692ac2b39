/**
 * Shape inference for the layers of a network spec (TensorFlow/Keras rules), and the checks that
 * come with it. Used by the spec's validation (each problem by path) and by the parameter layout.
 *
 * 3-D activations are [height, width, channels] (channels last), stored NHWC flattened: the value
 * at (sample b, row y, column x, channel c) is at ((b * H + y) * W + x) * C + c.
 * A window of k cells with stride s over n cells gives
 *   valid: out = floor((n - k) / s) + 1, no padding;
 *   same:  out = ceil(n / s), padding total = max((out - 1) * s + k - n, 0), before = floor(total / 2).
 */

/** [height, width, channels] of a 3-D activation, or [units] of a 1-D one. */
export type Shape = readonly [number, number, number] | readonly [number];

export type Padding = 'valid' | 'same';

/** Where a 2-D window (conv kernel or pooling window) sits on its input, per axis. */
export interface Window2d {
  readonly inH: number;
  readonly inW: number;
  readonly inC: number;
  readonly outH: number;
  readonly outW: number;
  readonly outC: number;
  /** Window height and width (kernel or pool size). */
  readonly kh: number;
  readonly kw: number;
  /** Strides along height and width. */
  readonly sh: number;
  readonly sw: number;
  /** Padding before the first row / column (the rest of the total goes after the last). */
  readonly padTop: number;
  readonly padLeft: number;
}

/** A problem found while inferring shapes: where (a path into the spec) and what. */
export interface ShapeProblem {
  readonly path: (string | number)[];
  readonly message: string;
}

/** Most values one h(n) may hold per sample: a bound on every activation a spec can ask for. */
export const MAX_WIDTH = 1 << 22;

/** Flat number of values of a shape. */
export function shapeSize(shape: Shape): number {
  return shape.reduce((p, d) => p * d, 1);
}

/** `28x28x1` or `[10]`, for messages. */
export function formatShape(shape: Shape): string {
  return shape.length === 3 ? `${shape[0]}x${shape[1]}x${shape[2]}` : `[${shape[0]}]`;
}

/** n or [a, b] as a pair. */
export function pair(v: number | readonly [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

/** Output cells and padding before along one axis; out is < 1 when the window does not fit. */
export function axisWindow(n: number, k: number, s: number, padding: Padding): { out: number; before: number } {
  if (padding === 'valid') return { out: Math.floor((n - k) / s) + 1, before: 0 };
  const out = Math.ceil(n / s);
  const total = Math.max((out - 1) * s + k - n, 0);
  return { out, before: Math.floor(total / 2) };
}

/**
 * The window of a conv or pooling layer over a 3-D input, or a problem naming the window and the
 * shapes when it leaves no output cell (a window larger than its unpadded input with `valid`).
 */
export function window2d(
  input: readonly [number, number, number],
  size: readonly [number, number],
  strides: readonly [number, number],
  padding: Padding,
  outC: number,
  inputName = 'input',
): Window2d | string {
  const [inH, inW, inC] = input;
  const [kh, kw] = size;
  const [sh, sw] = strides;
  const y = axisWindow(inH, kh, sh, padding);
  const x = axisWindow(inW, kw, sw, padding);
  if (y.out < 1 || x.out < 1) {
    return (
      `window ${kh}x${kw} is larger than its ${inputName} ${formatShape(input)} (padding ${padding}): ` +
      `the output would have ${Math.max(y.out, 0)}x${Math.max(x.out, 0)} cells`
    );
  }
  return { inH, inW, inC, outH: y.out, outW: x.out, outC, kh, kw, sh, sw, padTop: y.before, padLeft: x.before };
}

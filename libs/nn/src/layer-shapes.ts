import {
  formatShape,
  MAX_WIDTH,
  pair,
  shapeSize,
  window2d,
  type Shape,
  type ShapeProblem,
  type Window2d,
} from './shapes';
import type { Layer, LayerKind, Skip } from './spec';

/** What shape inference knows of layer n: the shapes around it and the size of its kernel. */
export interface LayerGeometry {
  readonly kind: LayerKind;
  /** Shape of h(n). */
  readonly output: Shape;
  /** Rows of the kernel: dense fanIn (with a concat skip), conv kh * kw * cin; 0 without parameters. */
  readonly fanIn: number;
  /** Columns of the kernel: dense units, conv filters; channels of a pool, width of a flatten. */
  readonly units: number;
  /** Kernel and bias values of the layer. */
  readonly params: number;
  /** The window of a conv or pooling layer. */
  readonly window?: Window2d;
}

export interface InferredShapes {
  /** Shapes of h(0)..h(n) as far as they could be inferred (to h(L) when there is no problem). */
  readonly shapes: Shape[];
  readonly layers: LayerGeometry[];
  readonly problems: ShapeProblem[];
}

const is3d = (s: Shape): s is readonly [number, number, number] => s.length === 3;

/**
 * Shapes of h(0)..h(L) and each layer's geometry, given the input shape, the layers and the skips
 * (at most one into each layer, from n - 2 to n). Stops at the first layer whose input does not fit
 * it, with a problem naming that layer's path and the shapes involved.
 */
export function inferShapes(input: Shape, layers: readonly Layer[], skips: readonly Skip[]): InferredShapes {
  const shapes: Shape[] = [input];
  const out: LayerGeometry[] = [];
  const problems: ShapeProblem[] = [];
  for (let k = 0; k < layers.length; k++) {
    const n = k + 1;
    const i = skips.findIndex((s) => s.to === n);
    const skipProblem = i < 0 ? null : checkSkip(skips[i], layers[k], shapes);
    if (skipProblem) {
      problems.push({ path: ['skips', i, 'mode'], message: skipProblem });
      break;
    }
    const g = layerGeometry(layers[k], n, i < 0 ? null : skips[i], shapes);
    if (typeof g === 'string') {
      const layer = layers[k];
      const field = layer.kind === 'conv2d' ? 'kernelSize' : layer.kind?.endsWith('Pool2d') ? 'poolSize' : null;
      const window = g.startsWith('window');
      problems.push({
        path: window && field ? ['layers', k, field] : ['layers', k],
        message: `${layerName(layer)} ${g}`,
      });
      break;
    }
    const width = shapeSize(g.output);
    if (width > MAX_WIDTH) {
      problems.push({
        path: ['layers', k],
        message: `h(${n}) ${formatShape(g.output)} holds ${width} values per sample, at most ${MAX_WIDTH} are allowed`,
      });
      break;
    }
    const layer = layers[k];
    if ((layer.kind === undefined || layer.kind === 'dense') && layer.mask) {
      if (layer.mask.length !== g.fanIn || layer.mask.some((row) => row.length !== layer.units)) {
        problems.push({
          path: ['layers', k, 'mask'],
          message: `mask must have shape [${g.fanIn}][${g.units}] (fanIn x units)`,
        });
      }
    }
    out.push(g);
    shapes.push(g.output);
  }
  return { shapes, layers: out, problems };
}

/** Why a skip does not fit its layers, or null. */
function checkSkip(s: Skip, into: Layer, shapes: readonly Shape[]): string | null {
  const from = shapes[s.from];
  const prev = shapes[s.to - 1];
  if (s.mode === 'add') {
    if (from.length === 1 && prev.length === 1) {
      // x(to) = h(to - 1) + h(from): the layer an add skip sums into is h(to - 1)
      return from[0] === prev[0]
        ? null
        : `add needs equal sizes: h(${s.from}) has ${from[0]} units, h(${s.to - 1}) has ${prev[0]}`;
    }
    const same = from.length === prev.length && from.every((d, j) => d === prev[j]);
    return same
      ? null
      : `add needs equal shapes: h(${s.from}) is ${formatShape(from)}, h(${s.to - 1}) is ${formatShape(prev)}`;
  }
  if (into.kind !== undefined && into.kind !== 'dense') {
    return `concat skips go into dense layers only (layer ${s.to} is ${into.kind})`;
  }
  if (from.length !== 1) return `concat needs a 1-D source: h(${s.from}) is ${formatShape(from)} (flatten it first)`;
  return null;
}

/** Geometry of one layer on input h(n-1) (shape prev), or why it does not fit. */
function layerGeometry(layer: Layer, n: number, skip: Skip | null, shapes: readonly Shape[]): LayerGeometry | string {
  const prev = shapes[n - 1];
  const input = `h(${n - 1})`;
  switch (layer.kind) {
    case undefined:
    case 'dense': {
      if (is3d(prev)) {
        return `needs a 1-D input, ${input} is ${formatShape(prev)}: add a flatten layer before it`;
      }
      const fanIn = prev[0] + (skip?.mode === 'concat' ? shapes[skip.from][0] : 0);
      const params = fanIn * layer.units + (layer.useBias ? layer.units : 0);
      return { kind: 'dense', output: [layer.units], fanIn, units: layer.units, params };
    }
    case 'conv2d': {
      if (!is3d(prev)) return needs3d(input, prev);
      const w = window2d(
        prev,
        pair(layer.kernelSize),
        pair(layer.strides ?? 1),
        layer.padding,
        layer.filters,
        `input ${input}`,
      );
      if (typeof w === 'string') return w;
      const fanIn = w.kh * w.kw * w.inC;
      const params = fanIn * layer.filters + (layer.useBias ? layer.filters : 0);
      const output = [w.outH, w.outW, w.outC] as const;
      return { kind: 'conv2d', output, fanIn, units: layer.filters, params, window: w };
    }
    case 'maxPool2d':
    case 'avgPool2d': {
      if (!is3d(prev)) return needs3d(input, prev);
      const size = pair(layer.poolSize);
      const w = window2d(prev, size, pair(layer.strides ?? size), layer.padding, prev[2], `input ${input}`);
      if (typeof w === 'string') return w;
      return { kind: layer.kind, output: [w.outH, w.outW, w.outC], fanIn: 0, units: w.outC, params: 0, window: w };
    }
    case 'flatten': {
      const width = shapeSize(prev);
      return { kind: 'flatten', output: [width], fanIn: 0, units: width, params: 0 };
    }
  }
}

function needs3d(input: string, prev: Shape): string {
  return `needs a 3-D input [height, width, channels], ${input} is ${formatShape(prev)} (give inputShape)`;
}

/** `dense`, `conv2d`, ... for messages. */
function layerName(layer: Layer): string {
  return layer.kind ?? 'dense';
}

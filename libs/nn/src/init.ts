import { flatMask, paramLayout } from './layout';
import type { Rng } from './rng';
import type { Activation, Conv2dLayer, DenseLayer, NetworkSpec } from './spec';

/**
 * Kernel initializers (biases always start at 0; masked kernel entries are written as exactly 0):
 *   he_normal       w ~ N(0, 2 / fanIn)                         (He et al. 2015)
 *   he_uniform      w ~ U(-sqrt(6 / fanIn), +sqrt(6 / fanIn))
 *   glorot_normal   w ~ N(0, 2 / (fanIn + fanOut))              (Glorot & Bengio 2010)
 *   glorot_uniform  w ~ U(-sqrt(6 / (fanIn + fanOut)), +sqrt(6 / (fanIn + fanOut)))
 *   zeros           w = 0
 * The normals are plain (not truncated as in Keras). fanIn counts every row of the kernel, masked
 * or not; a conv kernel [kh, kw, cin, filters] has fanIn kh * kw * cin and fanOut kh * kw * filters.
 * One draw per kernel entry in flat order, masked or not, so the stream does not depend
 * on the mask.
 */
export const INIT_SCHEMES = ['he_normal', 'he_uniform', 'glorot_normal', 'glorot_uniform', 'zeros'] as const;
export type InitScheme = (typeof INIT_SCHEMES)[number];

/** A scheme for every layer, or a choice per layer with a kernel (n is the lecture's 1-based index). */
export type InitChoice = InitScheme | ((n: number, layer: DenseLayer | Conv2dLayer) => InitScheme);

const HE_FAMILY: readonly Activation[] = ['relu', 'leaky_relu', 'elu', 'gelu'];

/** he_normal for relu-family, elu and gelu layers, glorot_uniform otherwise. */
export function defaultScheme(activation: Activation): InitScheme {
  return HE_FAMILY.includes(activation) ? 'he_normal' : 'glorot_uniform';
}

/** Fresh parameters in the flat layout, drawn from rng. */
export function initParams(spec: NetworkSpec, rng: Rng, scheme?: InitChoice): Float32Array {
  const layout = paramLayout(spec);
  const params = new Float32Array(layout.size);
  const mask = flatMask(spec, layout);
  for (const l of layout.layers) {
    const layer = spec.layers[l.index - 1];
    if (!('activation' in layer)) continue; // pooling and flatten: no parameters
    const s = typeof scheme === 'function' ? scheme(l.index, layer) : (scheme ?? defaultScheme(layer.activation));
    if (!INIT_SCHEMES.includes(s)) throw new RangeError(`layers[${l.index - 1}]: unknown initializer ${String(s)}`);
    // a conv kernel's fan-in is kh * kw * cin (its rows), its fan-out kh * kw * filters (Keras)
    const fanOut = l.window ? l.window.kh * l.window.kw * l.units : l.units;
    const draw = sampler(s, l.fanIn, fanOut, rng);
    for (let i = l.kernelOffset; i < l.kernelOffset + l.kernelSize; i++) {
      const w = draw();
      params[i] = mask && mask[i] === 0 ? 0 : w;
    }
  }
  return params;
}

function sampler(scheme: InitScheme, fanIn: number, fanOut: number, rng: Rng): () => number {
  switch (scheme) {
    case 'he_normal': {
      const std = Math.sqrt(2 / fanIn);
      return () => std * rng.normal();
    }
    case 'he_uniform': {
      const lim = Math.sqrt(6 / fanIn);
      return () => lim * (2 * rng.next() - 1);
    }
    case 'glorot_normal': {
      const std = Math.sqrt(2 / (fanIn + fanOut));
      return () => std * rng.normal();
    }
    case 'glorot_uniform': {
      const lim = Math.sqrt(6 / (fanIn + fanOut));
      return () => lim * (2 * rng.next() - 1);
    }
    case 'zeros':
      return () => 0;
  }
}

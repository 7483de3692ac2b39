import type { Vec } from './activations';
import type { LayerLayout, ParamLayout } from './layout';

/**
 * The inputs of a forward pass, shared by Network and CurvatureNetwork: the checks of its
 * arguments, and each layer's x(n) where a skip ends.
 */

/** Refuses a parameter vector, batch or inputs that do not fit the layout. */
export function checkRunArgs(layout: ParamLayout, params: Vec, x: Vec, batch: number): void {
  const { widths, size } = layout;
  if (params.length !== size) {
    throw new RangeError(`parameter vector has ${params.length} values, the layout needs ${size}`);
  }
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`batch must be a positive integer, got ${batch}`);
  if (x.length !== batch * widths[0]) {
    throw new RangeError(
      `inputs have ${x.length} values, batch ${batch} x ${widths[0]} inputs needs ${batch * widths[0]}`,
    );
  }
}

/** Values per sample of x(n): a dense layer's fanIn (concat skips included), else h(n-1)'s width. */
export function inputWidth(layout: ParamLayout, l: LayerLayout): number {
  return l.kind === 'dense' ? l.fanIn : layout.widths[l.index - 1];
}

/** x(n) = [h(n-1), h(from)] (concat) or h(n-1) + h(from) (add), `xw` values per sample. */
export function gatherSkip(
  xn: Float64Array,
  hp: Float64Array,
  hf: Float64Array,
  l: LayerLayout,
  widths: readonly number[],
  xw: number,
  batch: number,
): void {
  const { from, mode } = l.skip!;
  const prev = widths[l.index - 1];
  const wf = widths[from];
  for (let r = 0; r < batch; r++) {
    const xo = r * xw;
    if (mode === 'concat') {
      for (let i = 0; i < prev; i++) xn[xo + i] = hp[r * prev + i];
      for (let i = 0; i < wf; i++) xn[xo + prev + i] = hf[r * wf + i];
    } else {
      for (let i = 0; i < prev; i++) xn[xo + i] = hp[r * prev + i] + hf[r * wf + i];
    }
  }
}

import type { NetworkSpec } from './spec';

/**
 * One input row of a network as its values in the stored order: flat numbers (inputSize of them),
 * or, for a model with an inputShape [h, w, c], the image nested [h][w][c] (NHWC flattened, the
 * order training used). Throws RangeError saying what the row holds and what the model takes.
 */
export function flattenInputRow(spec: NetworkSpec, row: unknown): number[] {
  const F = spec.inputSize;
  const shape = spec.inputShape;
  const takes = shape ? `an image [${shape.join('][')}] or ${F} flat values` : `${F} values`;
  if (!Array.isArray(row)) throw new RangeError(`is not an array, the model takes ${takes}`);
  if (row.every((v) => typeof v === 'number')) {
    if (row.length !== F) throw new RangeError(`has ${row.length} values, the model takes ${takes}`);
    return row as number[];
  }
  if (!shape) throw new RangeError(`is not a row of numbers, the model takes ${takes}`);
  const got = nestedShape(row);
  const fits = got.length === 3 && got.every((d, i) => d === shape[i]);
  if (!fits) {
    throw new RangeError(`has shape ${got.map((d) => `[${d}]`).join('')}, the model takes ${takes}`);
  }
  const out: number[] = [];
  (row as number[][][]).forEach((line, y) =>
    line.forEach((cell, x) =>
      cell.forEach((v, c) => {
        if (!Number.isFinite(v)) throw new RangeError(`holds ${v} at [${y}][${x}][${c}], a finite number is needed`);
        out.push(v);
      }),
    ),
  );
  return out;
}

/**
 * The shape of a nested array when it is regular and ends in numbers ([28, 28, 1]); where it is not,
 * the shape up to the first irregular level followed by a '?' (so a message can show it).
 */
function nestedShape(v: unknown): (number | string)[] {
  if (!Array.isArray(v)) return typeof v === 'number' ? [] : ['?'];
  if (v.length === 0) return [0];
  const inner = v.map(nestedShape);
  const same = inner.every((s) => s.length === inner[0].length && s.every((d, i) => d === inner[0][i]));
  return same ? [v.length, ...inner[0]] : [v.length, '?'];
}

import { createRng, CurvatureNetwork, initParams, outputUnits, parseSpec, type NetworkSpec } from '@nnq/nn';
import { describe, expect, it } from 'vitest';
import type { CurvatureRequest, ShardBuffers } from './compute-messages';
import { CurvaturePoints } from './curvature-points';

/**
 * A compute thread's G v (CurvaturePoints.product): v in and G v out as float64 LE bytes in one
 * moved buffer, the same bytes as libs/nn's CurvatureNetwork called directly (what the worker's
 * event loop ran before, and trainSecondOrder runs), the point's forward pass kept per point key.
 */

const tanhNet = parseSpec({
  inputSize: 3,
  layers: [
    { units: 5, activation: 'tanh' },
    { units: 2, activation: 'identity' },
  ],
  loss: 'sum_of_squares',
});

function leBytes(v: Float64Array): ArrayBuffer {
  const out = new ArrayBuffer(v.length * 8);
  const d = new DataView(out);
  v.forEach((x, i) => d.setFloat64(i * 8, x, true));
  return out;
}

/** A request for `batch` rows of random data at `params` (buffers longer than needed, as the pool's). */
function request(spec: NetworkSpec, params: Float32Array, batch: number, v: Float64Array, pointKey: string, seed = 1) {
  const rng = createRng(seed);
  const buffers: ShardBuffers = {
    x: Float32Array.from({ length: (batch + 2) * spec.inputSize }, () => rng.normal()),
    y: Float32Array.from({ length: (batch + 2) * outputUnits(spec) }, () => rng.normal()),
    grad: new Float32Array(params.length),
    params: Float32Array.from([...params, 99]),
  };
  const req: CurvatureRequest = {
    kind: 'curvature',
    id: 1,
    pointKey,
    spec,
    paramCount: params.length,
    buffers,
    batch,
    vector: leBytes(v),
  };
  return req;
}

function direct(req: CurvatureRequest, v: Float64Array): Buffer {
  const { spec, batch, buffers: b } = req;
  const net = new CurvatureNetwork(spec);
  net.setPoint(
    b.params.subarray(0, req.paramCount),
    b.x.subarray(0, batch * spec.inputSize),
    b.y.subarray(0, batch * outputUnits(spec)),
    batch,
  );
  const gv = net.gaussNewtonVector(v, new Float64Array(req.paramCount));
  return Buffer.from(leBytes(gv));
}

describe('CurvaturePoints.product', () => {
  it('gives G v of a hand-computed linear model: J^T J v with J rows [x_i, 1]', () => {
    const spec = parseSpec({ inputSize: 1, layers: [{ units: 1, activation: 'identity' }], loss: 'sum_of_squares' });
    const req = request(spec, Float32Array.of(0.5, -1), 2, Float64Array.of(1, 0), 'lin');
    req.buffers.x.set([1, 2]);
    // G = sum_i [x_i, 1]^T [x_i, 1] = [[5, 3], [3, 2]]; G (1, 0) = (5, 3), whatever the point and targets
    new CurvaturePoints().product(req);
    const d = new DataView(req.vector);
    expect([d.getFloat64(0, true), d.getFloat64(8, true)]).toEqual([5, 3]);
  });

  it.each([
    [1, 7],
    [4, 8],
    [9, 9],
  ])('equals CurvatureNetwork.gaussNewtonVector byte for byte (batch %i, seed %i)', (batch, seed) => {
    const rng = createRng(seed);
    const params = initParams(tanhNet, rng);
    const v = Float64Array.from({ length: params.length }, () => rng.normal());
    const req = request(tanhNet, params, batch, v, `p${seed}`, seed);
    const want = direct(req, v);
    new CurvaturePoints().product(req);
    expect(Buffer.from(req.vector).equals(want)).toBe(true);
  });

  it('keeps a point: a later product at its key reuses the forward pass (rows sent then are not read)', () => {
    const rng = createRng(3);
    const params = initParams(tanhNet, rng);
    const [v1, v2] = [0, 1].map(() => Float64Array.from({ length: params.length }, () => rng.normal()));
    const points = new CurvaturePoints(2);
    const first = request(tanhNet, params, 4, v1, 'run:0:1:0');
    points.product(first);
    const second = request(tanhNet, params, 4, v2, 'run:0:1:0');
    const want = direct(second, v2);
    // other rows in the buffers: the kept point's rows count
    second.buffers.x.fill(0);
    points.product(second);
    expect(Buffer.from(second.vector).equals(want)).toBe(true);
    for (const k of ['run:0:3:0', 'run:0:5:0']) points.product(request(tanhNet, params, 4, v1, k));
    expect(points.kept).toEqual(['run:0:3:0', 'run:0:5:0']);
  });

  it('refuses a direction of the wrong length, naming the point and the bytes', () => {
    const params = initParams(tanhNet, createRng(1));
    const req = request(tanhNet, params, 2, new Float64Array(params.length - 1), 'run:2:0:1');
    expect(() => new CurvaturePoints().product(req)).toThrow(
      /curvature run:2:0:1: direction has 248 bytes, expected 256/,
    );
  });
});

/**
 * The three problems of bench/optimizers, full batch, with their float64 objectives:
 *   (a) the lecture's XOR: 2-2-1 relu (and 2-8-1 tanh), identity output, J = 1/2 sum (y - f)^2 over the 4 points
 *   (b) sin on [-pi, pi]: 1-32-1 tanh, 128 evenly spaced points, J / N (mean of 1/2 e^2)
 *   (c) two spirals (1.5 turns, noise 0.02, 256 points): 2-16-16-1 tanh, sigmoid cross-entropy, J / N
 * Every objective counts its passes over the data: a loss-and-gradient, a loss, fixing the
 * curvature point (a forward pass) and each Gauss-Newton product count one each.
 */
import {
  CurvatureNetwork,
  createRng,
  initParams,
  lossAndGrad64,
  parseSpec,
  type CurvatureObjective,
  type LossGrad,
  type NetworkSpec,
} from '@nnq/nn';

export interface Problem {
  name: string;
  spec: NetworkSpec;
  x: Float64Array;
  y: Float64Array;
  rows: number;
  /** 1 (XOR: the lecture's summed J) or 1 / rows (a mean). */
  scale: number;
}

export interface CountedObjective extends CurvatureObjective {
  passes: number;
  /** Synchronous here (libs/nn in this thread). */
  lossAndGrad(params: Float64Array): LossGrad;
}

/** XOR with `units` hidden units of `activation`: the lecture's is 2 relu, examples/xor.json's 8 tanh. */
export function xorProblem(units: number, activation: 'relu' | 'tanh'): Problem {
  const spec = parseSpec({
    inputSize: 2,
    layers: [
      { units, activation },
      { units: 1, activation: 'identity' },
    ],
    loss: 'sum_of_squares',
  });
  const x = Float64Array.from([0, 0, 0, 1, 1, 0, 1, 1]);
  return { name: `xor 2-${units}-1 ${activation}`, spec, x, y: Float64Array.from([0, 1, 1, 0]), rows: 4, scale: 1 };
}

export function sineProblem(): Problem {
  const N = 128;
  const spec = parseSpec({
    inputSize: 1,
    layers: [
      { units: 32, activation: 'tanh' },
      { units: 1, activation: 'identity' },
    ],
    loss: 'sum_of_squares',
  });
  const x = Float64Array.from({ length: N }, (_, i) => -Math.PI + (2 * Math.PI * i) / (N - 1));
  return { name: 'sine', spec, x, y: x.map(Math.sin), rows: N, scale: 1 / N };
}

export function spiralsProblem(): Problem {
  const N = 256;
  const rng = createRng(12345);
  const x = new Float64Array(2 * N);
  const y = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    // the arms of libs/data's synthetic spirals: r = t, theta = 2 pi turns t + pi c
    const c = i % 2;
    const t = 0.05 + 0.95 * rng.next();
    const theta = 2 * Math.PI * 1.5 * t + Math.PI * c;
    x[2 * i] = t * Math.cos(theta) + 0.02 * rng.normal();
    x[2 * i + 1] = t * Math.sin(theta) + 0.02 * rng.normal();
    y[i] = c;
  }
  const spec = parseSpec({
    inputSize: 2,
    layers: [
      { units: 16, activation: 'tanh' },
      { units: 16, activation: 'tanh' },
      { units: 1, activation: 'sigmoid' },
    ],
    loss: 'sigmoid_binary_cross_entropy',
  });
  return { name: 'spirals', spec, x, y, rows: N, scale: 1 / N };
}

/** The initial parameters of seed k (the project's initialiser: He or Glorot by activation). */
export function initial(problem: Problem, seed: number): Float64Array {
  return Float64Array.from(initParams(problem.spec, createRng(seed)));
}

/** The float64 objective (loss, gradient, Gauss-Newton products) of a problem, counting passes. */
export function objective(problem: Problem): CountedObjective {
  const { spec, x, y, rows, scale } = problem;
  const net = new CurvatureNetwork(spec);
  const grad = new Float64Array(net.layout.size);
  const gv = new Float64Array(net.layout.size);
  const obj: CountedObjective = {
    passes: 0,
    lossAndGrad(p) {
      obj.passes++;
      const r = lossAndGrad64(spec, p, x, y, rows, grad);
      for (let i = 0; i < grad.length; i++) grad[i] *= scale;
      return { loss: r.loss * scale, grad };
    },
    curvatureAt(p) {
      obj.passes++;
      net.setPoint(p, x, y, rows);
      return (v) => {
        obj.passes++;
        net.gaussNewtonVector(v, gv);
        for (let i = 0; i < gv.length; i++) gv[i] *= scale;
        return gv;
      };
    },
  };
  return obj;
}

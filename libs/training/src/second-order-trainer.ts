import type { Batch, Preprocessing } from '@nnq/data';
import {
  createHessianFreeState,
  createLbfgsState,
  CurvatureNetwork,
  hessianFreeStep,
  lbfgsStep,
  type CurvatureObjective,
  type OuterStep,
  type SecondOrderConfig,
} from '@nnq/nn';
import type { Evaluation } from './evaluation';
import { localEvaluator, openLocalRun } from './local-run';
import type { LocalRunOptions, LocalRunResult, StepRecord } from './local-trainer';
import { NonFiniteError } from './non-finite';
import type { RunConfig } from './run-config';
import { PermutationCache, rowsOf, type ShardRange } from './run-plan';
import { initialParams } from './run-setup';
import type { GatherRows } from './shard-compute';

/**
 * trainLocal for a second-order optimizer (libs/nn second-order): each step of the run is one
 * outer step of L-BFGS or Hessian-free over the step's batch: the whole train split in split
 * order when batchSize is its size (full batch: the same batch every step, so L-BFGS reuses its
 * last loss and gradient), else the plan's batch of the step (a fixed large batch per outer step).
 *
 * Loss and gradient come from the run's engine, shard by shard and summed in shard order in
 * float64, then divided by the batch's rows (the optimizer sees the mean loss); Gauss-Newton
 * products from libs/nn's R-operator (float64) over the same rows. Parameters are float64 inside
 * the optimizer and float32 at every pass and in the result. A step's record holds the loss after
 * the step, the accuracy of the last pass, lr 0 (the step length is the optimizer's) and the
 * gradient norm at the start of the step. When the optimizer stops (converged, or a line search or
 * CG that failed), the run ends there with the last good parameters and `stopped` says why; a
 * NaN or infinite loss or gradient fails it with a NonFiniteError.
 */
export async function trainSecondOrder(
  config: RunConfig,
  so: SecondOrderConfig,
  options: LocalRunOptions,
): Promise<LocalRunResult> {
  const run = await openLocalRun(config, options);
  const { setup, engine, gather } = run;
  try {
    const params = Float64Array.from(initialParams(config));
    const mask = setup.mask;
    const train = setup.splits.train;
    const fullBatch = config.batchSize === train.length;
    const perms = new PermutationCache(train.length, config.seed);
    const curvature = new CurvatureNetwork(config.model);
    const lbfgs = createLbfgsState();
    const hf = so.type === 'hessian_free' ? createHessianFreeState(so) : null;
    const buffer = new Float32Array(setup.paramCount);
    const steps: StepRecord[] = [];
    const evaluations: Evaluation[] = [];
    let stopped: string | undefined;
    const evaluate = localEvaluator(config, run, options, evaluations);

    let batches: Batch[] = [];
    for (let t = 0; t < setup.plan.totalSteps && !stopped; t++) {
      if (options.signal?.aborted) throw new Error('cancelled');
      if (t === 0 || !fullBatch)
        batches = await stepBatches(config, setup.plan.shardsOf(t), train, perms, gather, setup);
      const rows = batches.reduce((n, b) => n + b.rows, 0);
      let correct = 0;
      let gradNorm = hf === null && fullBatch && t > 0 ? norm(lbfgs.grad) : NaN;
      const obj: CurvatureObjective = {
        async lossAndGrad(p) {
          const p32 = Float32Array.from(p);
          const grad = new Float64Array(p.length);
          let loss = 0;
          correct = 0;
          // summed in shard order, in float64
          for (const b of batches) {
            const r = await engine.lossAndGrad(p32, b.x, b.y, b.rows, buffer);
            loss += r.loss;
            correct += r.correct;
            for (let i = 0; i < grad.length; i++) grad[i] += r.grad[i];
          }
          for (let i = 0; i < grad.length; i++) grad[i] /= rows;
          if (Number.isNaN(gradNorm)) gradNorm = norm(grad);
          return { loss: loss / rows, grad };
        },
        curvatureAt(p) {
          const { x, y } = concat(batches);
          curvature.setPoint(Float32Array.from(p), x, y, rows);
          const gv = new Float64Array(p.length);
          return (v) => {
            curvature.gaussNewtonVector(v, gv);
            for (let i = 0; i < gv.length; i++) gv[i] /= rows;
            return gv;
          };
        },
      };
      const r: OuterStep =
        so.type === 'hessian_free'
          ? await hessianFreeStep(so, params, hf!, obj)
          : await lbfgsStep(so, params, lbfgs, obj, fullBatch && t > 0);
      // a NaN or infinite loss or gradient fails the run, as a first-order run's does (the parameters are kept)
      if (r.nonFinite) throw new NonFiniteError(t, 'gradient', { paramsKept: true });
      // removed connections stay exactly 0 (their gradient and curvature are 0 already)
      if (mask) for (let i = 0; i < params.length; i++) if (mask[i] === 0) params[i] = 0;
      stopped = r.stop;
      const rec: StepRecord = {
        step: t,
        epoch: setup.plan.epochOf(t),
        loss: r.loss,
        accuracy: correct / rows,
        lr: 0,
        gradNorm: Number.isFinite(gradNorm) ? gradNorm : 0,
      };
      steps.push(rec);
      options.onStep?.(rec);
      const last = t === setup.plan.totalSteps - 1 || stopped !== undefined;
      if (last || (config.evaluation.every > 0 ? (t + 1) % config.evaluation.every === 0 : setup.plan.endsEpoch(t))) {
        const p32 = Float32Array.from(params);
        await evaluate('validation', t + 1, p32);
        if (last) await evaluate('test', t + 1, p32);
      }
    }
    const result: LocalRunResult = {
      params: Float32Array.from(params),
      setup,
      steps,
      evaluations,
      engine: engine.kind,
    };
    return stopped ? { ...result, stopped } : result;
  } finally {
    await engine.dispose();
  }
}

/** The step's shard batches: the whole train split cut into config.shards parts (full batch), else the plan's. */
async function stepBatches(
  config: RunConfig,
  shards: ShardRange[],
  train: Uint32Array,
  perms: PermutationCache,
  gather: GatherRows,
  setup: { preprocessing: Preprocessing },
): Promise<Batch[]> {
  const out: Batch[] = [];
  if (config.batchSize === train.length) {
    const per = Math.ceil(train.length / config.shards);
    for (let s = 0; s < train.length; s += per) {
      out.push(await gather(train.subarray(s, Math.min(train.length, s + per)), setup.preprocessing));
    }
    return out;
  }
  for (const r of shards) {
    out.push(await gather(rowsOf(train, perms.get(r.epoch), r.start, r.end), setup.preprocessing));
  }
  return out;
}

function concat(batches: Batch[]): { x: Float32Array; y: Float32Array } {
  if (batches.length === 1) return batches[0];
  const x = new Float32Array(batches.reduce((n, b) => n + b.x.length, 0));
  const y = new Float32Array(batches.reduce((n, b) => n + b.y.length, 0));
  let ox = 0;
  let oy = 0;
  for (const b of batches) {
    x.set(b.x, ox);
    y.set(b.y, oy);
    ox += b.x.length;
    oy += b.y.length;
  }
  return { x, y };
}

function norm(v: Float64Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

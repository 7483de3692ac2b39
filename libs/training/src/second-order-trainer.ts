import type { Batch } from '@nnq/data';
import { CurvatureNetwork, type SecondOrderConfig } from '@nnq/nn';
import type { Evaluation } from './evaluation';
import { localEvaluator, openLocalRun } from './local-run';
import type { LocalRunOptions, LocalRunResult, StepRecord } from './local-trainer';
import type { RunConfig } from './run-config';
import { PermutationCache, rowsOf } from './run-plan';
import { initialParams } from './run-setup';
import {
  createSecondOrderState,
  isFullBatch,
  secondOrderOuterStep,
  secondOrderShards,
  type SecondOrderPasses,
  type SecondOrderShard,
} from './second-order-trainer-step';

/**
 * trainLocal for a second-order optimizer (libs/nn second-order): each step of the run is one
 * outer step of L-BFGS or Hessian-free over the step's batch: the whole train split in split
 * order when batchSize is its size (full batch: the same batch every step, so L-BFGS reuses its
 * last loss and gradient), else the plan's batch of the step (a fixed large batch per outer step).
 *
 * Loss and gradient come from the run's engine, Gauss-Newton products from libs/nn's R-operator
 * (float64), shard by shard (secondOrderShards), summed in shard order in float64 and divided by
 * the batch's rows (second-order-trainer-step.ts): exactly what the cluster computes, one job a
 * shard (the coordinator's SecondOrderStep), so the two give the same bytes. Parameters are float64 inside
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
    const train = setup.splits.train;
    const fullBatch = isFullBatch(config, train.length);
    const perms = new PermutationCache(train.length, config.seed);
    // one curvature network per shard: each keeps its shard's forward pass between products
    const curvature: CurvatureNetwork[] = [];
    const state = createSecondOrderState(so);
    const buffer = new Float32Array(setup.paramCount);
    const steps: StepRecord[] = [];
    const evaluations: Evaluation[] = [];
    let stopped: string | undefined;
    const evaluate = localEvaluator(config, run, options, evaluations);

    let batches: Batch[] = [];
    for (let t = 0; t < setup.plan.totalSteps && !stopped; t++) {
      if (options.signal?.aborted) throw new Error('cancelled');
      if (t === 0 || !fullBatch) {
        const shards = secondOrderShards(config, setup.plan, train.length, t);
        batches = [];
        for (const r of shards) batches.push(await gather(shardRows(train, perms, r), setup.preprocessing));
      }
      const passes: SecondOrderPasses = {
        async lossAndGrad(p32, use) {
          for (const b of batches) use(await engine.lossAndGrad(p32, b.x, b.y, b.rows, buffer));
        },
        curvatureAt(p32) {
          batches.forEach((b, s) =>
            (curvature[s] ??= new CurvatureNetwork(config.model)).setPoint(p32, b.x, b.y, b.rows),
          );
          const gv = new Float64Array(p32.length);
          return Promise.resolve(async (v: Float64Array, use: (gv: Float64Array) => void) => {
            for (let s = 0; s < batches.length; s++) use(curvature[s].gaussNewtonVector(v, gv));
            return Promise.resolve();
          });
        },
      };
      const rows = batches.reduce((n, b) => n + b.rows, 0);
      const at = { so, params, state, mask: setup.mask, fullBatch, rows, step: t, epoch: setup.plan.epochOf(t) };
      const { record: rec, stop } = await secondOrderOuterStep(at, passes);
      stopped = stop;
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

/** A second-order shard's train rows: in split order (full batch) or the epoch permutation's. */
export function shardRows(train: Uint32Array, perms: PermutationCache, r: SecondOrderShard): Uint32Array {
  return r.epoch === undefined ? train.subarray(r.start, r.end) : rowsOf(train, perms.get(r.epoch), r.start, r.end);
}

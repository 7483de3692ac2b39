import { Logger } from '@nestjs/common';
import { gradientJobId } from '@nnq/protocol';
import { NonFiniteError, parseRunConfig } from '@nnq/training';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { driveSteps, referenceSteps, SimCluster, type SimBehaviour } from '../../../../test/support/sim-worker';
import { CentralStep } from './central-step';

/** 2 shards of 20 rows a step, Adam, a 2-4-1 network (17 parameters). */
const config = (patch: object = {}) =>
  parseRunConfig({
    name: 'central',
    dataset: { source: { type: 'synthetic', name: 'xor', n: 400, seed: 1, task: 'regression' } },
    model: {
      inputSize: 2,
      layers: [
        { units: 4, activation: 'tanh' },
        { units: 1, activation: 'identity' },
      ],
      loss: 'sum_of_squares',
    },
    optimizer: { type: 'adam', lr: 0.01 },
    batchSize: 40,
    shards: 2,
    steps: 6,
    ...patch,
  });

const bytes = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

describe('CentralStep against simulated workers on a real Redis', () => {
  let cluster: SimCluster | undefined;
  afterEach(async () => cluster?.close());
  const drive = (runId: string, patch: object, behaviour: SimBehaviour = {}, stragglerMs = 0) => {
    cluster = new SimCluster(inject('redisUrl'), behaviour, stragglerMs);
    const c = config(patch);
    return driveSteps(cluster, runId, c, 6, (deps, setup) => new CentralStep(deps, runId, c, setup, new Logger(runId)));
  };

  it('gives the parameters of the in-process sum and optimizer, bitwise, step after step', async () => {
    const run = await drive('c1', {});
    expect(run.error).toBeUndefined();
    const ref = referenceSteps(config(), run.setup, run.initial, 6);
    run.params.forEach((p, t) => expect(bytes(p).equals(bytes(ref.params[t])), `step ${t}`).toBe(true));
    expect(run.outcomes).toEqual(ref.records);
    expect(cluster!.metrics.steps).toBe(6);
    // every phase of every step, once
    expect(cluster!.metrics.phases.filter((p) => p === 'sum')).toHaveLength(6);
    expect(new Set(cluster!.metrics.phases)).toEqual(new Set(['dispatch', 'wait', 'sum', 'optimizer', 'publish']));
  });

  it('queues a late shard again under <id>-r1 and counts the first result written', async () => {
    const late = gradientJobId('c2', 2, 1);
    const run = await drive('c2', {}, { delayMs: (id) => (id === late ? 800 : 0) }, 50);
    expect(run.error).toBeUndefined();
    expect(cluster!.metrics.stragglers).toBeGreaterThanOrEqual(1);
    expect(cluster!.taken).toContain(`${late}-r1`);
    const ref = referenceSteps(config(), run.setup, run.initial, 6);
    expect(bytes(run.params[5]).equals(bytes(ref.params[5]))).toBe(true);
  });

  it('skips a non-finite step (onNonFinite "skip"): the same parameters are the next version', async () => {
    const poisoned = new Set([2]);
    const run = await drive('c3', { onNonFinite: 'skip' }, { poisoned });
    expect(run.error).toBeUndefined();
    expect(run.outcomes[2]).toMatchObject({ step: 2, skipped: true, lr: 0 });
    expect(bytes(run.params[2]).equals(bytes(run.params[1]))).toBe(true);
    const ref = referenceSteps(config({ onNonFinite: 'skip' }), run.setup, run.initial, 6, poisoned);
    run.params.forEach((p, t) => expect(bytes(p).equals(bytes(ref.params[t])), `step ${t}`).toBe(true));
    expect(cluster!.metrics.nonFinite).toBe(1);
  });

  it('fails a non-finite step (onNonFinite "fail"): NonFiniteError, the parameters before it kept', async () => {
    const run = await drive('c4', {}, { poisoned: new Set([2]) });
    expect(run.error).toBeInstanceOf(NonFiniteError);
    expect((run.error as Error).message).toMatch(
      /^non-finite loss or gradient at step 2; the parameters of step 2 are kept$/,
    );
    expect(run.outcomes).toHaveLength(2);
    const kept = await run.strategy.lastFiniteParams(2);
    expect(kept && bytes(kept).equals(bytes(run.params[1]))).toBe(true);
  });
});

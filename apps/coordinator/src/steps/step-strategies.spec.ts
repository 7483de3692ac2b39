import { Logger } from '@nestjs/common';
import { gradientJobId } from '@nnq/protocol';
import { NonFiniteError, type RunConfig, type RunSetup } from '@nnq/training';
import { ReplicaPastError, Replicas } from '@nnq/exchange';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { smallRegressionRun } from '../../../../test/support/small-regression';
import { driveSteps, referenceSteps, SimCluster, type SimBehaviour } from '../../../../test/support/sim-worker';
import type { DriverDeps } from '../runs/driver-deps';
import { CentralStep } from './central-step';
import { ReplicatedStep } from './replicated-step';
import { SlicedStep } from './sliced-step';
import type { StepStrategy } from './step-strategy';

/** 2 shards of 20 rows a step, Adam, a 2-4-1 network (17 parameters); `patch` picks the strategy's options. */
const config = (patch: object = {}) => smallRegressionRun('steps', { steps: 6, ...patch });

const bytes = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

type Make = (deps: DriverDeps, runId: string, c: RunConfig, setup: RunSetup, logger: Logger) => StepStrategy;

interface Strategy {
  name: string;
  /** Run ids start with it: `c1`, `s1`, ... */
  prefix: string;
  /** Run config options that select the strategy. */
  options: object;
  make: Make;
  /** The coordinator's phases of a step (a sliced step sums and updates in the workers' reduce jobs). */
  phases: string[];
  /** Reduce jobs a step queues (`<run>-<t>-r<slice>`): one a slice. */
  reduceJobs: number;
}

const strategies: Strategy[] = [
  {
    name: 'CentralStep',
    prefix: 'c',
    options: {},
    make: (...a) => new CentralStep(...a),
    phases: ['dispatch', 'wait', 'sum', 'optimizer', 'publish'],
    reduceJobs: 0,
  },
  {
    // a snapshot every 2 steps: replicas start from snapshots and the gradients kept since, within 6 steps
    name: 'ReplicatedStep',
    prefix: 'r',
    options: { reduce: { strategy: 'replicated' } },
    make: (...a) => new ReplicatedStep(...a, 2),
    // no sum nor update here: the replicas' summaries give the records
    phases: ['dispatch', 'wait', 'publish'],
    reduceJobs: 0,
  },
  {
    name: 'SlicedStep',
    prefix: 's',
    options: { reduce: { slices: 2, sliceAbove: 0 } },
    make: (...a) => new SlicedStep(...a),
    phases: ['dispatch', 'wait', 'publish'],
    reduceJobs: 2,
  },
];

describe.each(strategies)('$name against simulated workers on a real Redis', (s) => {
  let cluster: SimCluster | undefined;
  afterEach(async () => cluster?.close());
  const conf = (patch: object = {}) => config({ ...s.options, ...patch });
  const drive = (n: number, patch: object, behaviour: SimBehaviour = {}, stragglerMs = 0) => {
    const runId = `${s.prefix}${n}`;
    cluster = new SimCluster(inject('redisUrl'), behaviour, stragglerMs);
    const c = conf(patch);
    return driveSteps(cluster, runId, c, 6, (deps, setup) => s.make(deps, runId, c, setup, new Logger(runId)));
  };

  it('gives the parameters of the in-process sum and optimizer, bitwise, step after step', async () => {
    const run = await drive(1, {});
    expect(run.error).toBeUndefined();
    const ref = referenceSteps(conf(), run.setup, run.initial, 6);
    run.params.forEach((p, t) => expect(bytes(p).equals(bytes(ref.params[t])), `step ${t}`).toBe(true));
    expect(run.outcomes).toEqual(ref.records);
    expect(cluster!.metrics.steps).toBe(6);
    // every phase of every step, once
    expect(cluster!.metrics.phases.filter((p) => p === 'publish')).toHaveLength(6);
    expect(new Set(cluster!.metrics.phases)).toEqual(new Set(s.phases));
    const reduceIds = new RegExp(`^${s.prefix}1-\\d+-r\\d+$`);
    expect(cluster!.taken.filter((id) => reduceIds.test(id))).toHaveLength(6 * s.reduceJobs);
  });

  it('queues a late shard again under <id>-r1 and counts the first result written', async () => {
    const late = gradientJobId(`${s.prefix}2`, 2, 1);
    const run = await drive(2, {}, { delayMs: (id) => (id === late ? 800 : 0) }, 50);
    expect(run.error).toBeUndefined();
    expect(cluster!.metrics.stragglers).toBeGreaterThanOrEqual(1);
    expect(cluster!.taken).toContain(`${late}-r1`);
    const ref = referenceSteps(conf(), run.setup, run.initial, 6);
    expect(bytes(run.params[5]).equals(bytes(ref.params[5]))).toBe(true);
  });

  it('skips a non-finite step (onNonFinite "skip"): the same parameters are the next version', async () => {
    const poisoned = new Set([2]);
    const run = await drive(3, { onNonFinite: 'skip' }, { poisoned });
    expect(run.error).toBeUndefined();
    expect(run.outcomes[2]).toMatchObject({ step: 2, skipped: true, lr: 0 });
    expect(bytes(run.params[2]).equals(bytes(run.params[1]))).toBe(true);
    const ref = referenceSteps(conf({ onNonFinite: 'skip' }), run.setup, run.initial, 6, poisoned);
    run.params.forEach((p, t) => expect(bytes(p).equals(bytes(ref.params[t])), `step ${t}`).toBe(true));
    expect(cluster!.metrics.nonFinite).toBe(1);
  });

  it('fails a non-finite step (onNonFinite "fail"): NonFiniteError, the parameters before it kept', async () => {
    const run = await drive(4, {}, { poisoned: new Set([2]) });
    expect(run.error).toBeInstanceOf(NonFiniteError);
    expect((run.error as Error).message).toMatch(
      /^non-finite loss or gradient at step 2; the parameters of step 2 are kept$/,
    );
    expect(run.outcomes).toHaveLength(2);
    const kept = await run.strategy.lastFiniteParams(2);
    expect(kept && bytes(kept).equals(bytes(run.params[1]))).toBe(true);
  });
});

describe('ReplicatedStep: replicas that join late, and what Redis keeps', () => {
  let cluster: SimCluster | undefined;
  afterEach(async () => cluster?.close());
  const conf = () => config({ reduce: { strategy: 'replicated' } });

  it('a replica that joins after the run starts from the newest snapshot and the kept gradients, bitwise', async () => {
    cluster = new SimCluster(inject('redisUrl'));
    // a run of 5 steps (none queued ahead past them), a snapshot every 2: the newest is version 4,
    // step 4's gradients are kept
    const c = config({ reduce: { strategy: 'replicated' }, steps: 5 });
    const run = await driveSteps(
      cluster,
      'j1',
      c,
      5,
      (deps, setup) => new ReplicatedStep(deps, 'j1', c, setup, new Logger('j1'), 2),
    );
    expect(run.error).toBeUndefined();
    const ref = referenceSteps(c, run.setup, run.initial, 5);
    const { keys, redis } = cluster;
    expect(await redis.get(keys.replicaSnapshotVersion('j1'))).toBe('4');
    const grads = (await redis.keys(`${keys.prefix}:*:grad:*`)).map((k) => k.replace(/^.*:grad:/, '')).sort();
    expect(grads).toEqual(['4:0', '4:1']);
    expect(await redis.exists(keys.replicaSnapshot('j1', 2))).toBe(0);
    // a new process: no replica yet
    const joining = new Replicas(redis, keys);
    let got: Float32Array | undefined;
    const read = await joining.paramsAt('j1', 5, (p) => (got = p.slice()));
    expect(bytes(got!).equals(bytes(ref.params[4]))).toBe(true);
    // the snapshot (17 parameters and Adam's two slots, 8-byte header) and step 4's two shard gradients
    expect(read).toBe(17 * 4 + 8 + 2 * 17 * 4 + 2 * (17 * 4 + 40));
    // a version before the newest snapshot: that step is over
    await expect(joining.paramsAt('j1', 3, () => undefined)).rejects.toBeInstanceOf(ReplicaPastError);
  });

  it('a replica that fell behind, and one ahead of a resumed coordinator, both give the same bytes', async () => {
    cluster = new SimCluster(inject('redisUrl'));
    const c = conf();
    const make = (deps: DriverDeps, setup: RunSetup) => new ReplicatedStep(deps, 'j2', c, setup, new Logger('j2'), 2);
    const run = await driveSteps(cluster, 'j2', c, 6, make);
    expect(run.error).toBeUndefined();
    const ref = referenceSteps(c, run.setup, run.initial, 6);
    const behind = new Replicas(cluster.redis, cluster.keys);
    let at6: Float32Array | undefined;
    await behind.paramsAt('j2', 6, (p) => (at6 = p.slice()));
    expect(bytes(at6!).equals(bytes(ref.params[5]))).toBe(true);
    // a coordinator resumes from step 3 (a checkpoint): its snapshot is version 3; this replica holds 6
    await run.strategy.init({ params: ref.params[2].slice(), state: ref.states[2] }, 3);
    let at3: Float32Array | undefined;
    await behind.paramsAt('j2', 3, (p) => (at3 = p.slice()));
    expect(bytes(at3!).equals(bytes(ref.params[2]))).toBe(true);
  });
});

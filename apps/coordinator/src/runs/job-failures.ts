import { Logger } from '@nestjs/common';
import {
  evaluateJobId,
  gradientJobId,
  parseEvaluateJobId,
  parseGradientJobId,
  parseReduceJobId,
  PLAN_MISMATCH,
  reduceJobId,
  repairJobId,
} from '@nnq/protocol';
import {
  estimateShardMemory,
  formatMb,
  type RunConfig,
  type RunPlan,
  type RunSetup,
  sliceRanges,
  slicingApplies,
  type SplitName,
} from '@nnq/training';
import type { Queue } from 'bullmq';
import { evaluateJobs, gradientJobs, reduceStep } from './step-jobs';

/** What a run being driven here tells of its jobs. */
interface TrackedRun {
  config: RunConfig;
  plan: RunPlan;
  splits: RunSetup['splits'];
  paramCount: number;
}

/** Correct copies of one shard's job queued after squatted ids before its run fails instead. */
export const MAX_REPAIRS = 3;

/** What a run fails with when its MAX_REPAIRS copies of a shard's job were all squatted. */
const COPIES_QUEUED = "copies of its job were queued after jobs not in the run's plan took its ids";

/** BullMQ's reason for a job that stalled (its worker died) more than maxStalledCount times. */
const STALLED = /stalled more than allowable limit/;

/** What the shard waiter records for a job's final failure. */
export interface FailureOutcome {
  /** The id the run's waits know: a repair copy's (`-f<n>`) failure is its planned job's. */
  jobId: string;
  /** Why the run fails; undefined when a correct copy was queued and the wait goes on. */
  reason?: string;
}

/**
 * What the coordinator does about a shard job that failed for good, beyond failing its run (issue
 * #24 and #25):
 * - a gradient or evaluation job a worker refused as not in the run's plan took one of the run's
 *   job ids (BullMQ ignored the coordinator's own add of that id): the planned job is queued again under
 *   `<id>-f<n>`, up to MAX_REPAIRS times, and the run goes on with its fault-free bytes;
 * - a job that stalled too often killed its workers (NNQ_MAX_WORKER_DEATHS): the run fails with a
 *   reason naming the shard and the memory the run's estimate gives it.
 */
export class JobFailures {
  private readonly logger = new Logger(JobFailures.name);
  private readonly runs = new Map<string, TrackedRun>();
  /** Copies queued per planned job id. */
  private readonly repairs = new Map<string, number>();
  /** Failed ids whose planned job was queued again: the same failure read again changes nothing. */
  private readonly repaired = new Set<string>();

  constructor(
    private readonly queue: Pick<Queue, 'add'>,
    private readonly limits: { workerMemoryMb: number; maxWorkerDeaths: number },
  ) {}

  /** A run being driven here: its plan, splits and parameter count tell a squatted job's right payload. */
  track(runId: string, config: RunConfig, setup: Pick<RunSetup, 'plan' | 'splits' | 'paramCount'>): void {
    this.runs.set(runId, { config, plan: setup.plan, splits: setup.splits, paramCount: setup.paramCount });
  }

  untrack(runId: string): void {
    this.runs.delete(runId);
    for (const id of this.repairs.keys()) if (this.identify(id)?.runId === runId) this.repairs.delete(id);
    for (const id of this.repaired) if (this.identify(id)?.runId === runId) this.repaired.delete(id);
  }

  /** The id of the last copy queued for a planned job id, if any. */
  latestCopy(jobId: string): string | undefined {
    const n = this.repairs.get(jobId);
    return n ? repairJobId(jobId, n) : undefined;
  }

  /**
   * A gradient or evaluation job id of a run: the planned id it stands for (a `-f<n>` copy's
   * failure is its planned job's), what it computes, and the planned job (undefined past the run's
   * steps or its split's shards).
   */
  private identify(jobId: string) {
    const g = parseGradientJobId(jobId);
    if (g) {
      const planned = gradientJobId(g.runId, g.step, g.shard);
      const run = this.runs.get(g.runId);
      const inPlan = run && g.step < run.plan.totalSteps && g.shard < run.plan.shards;
      return {
        runId: g.runId,
        planned,
        copy: g.copy?.startsWith('f') ?? false,
        what: `step ${g.step} shard ${g.shard}`,
        entry: () => (inPlan ? gradientJobs(g.runId, run.plan, g.step, true)[g.shard] : undefined),
      };
    }
    const e = parseEvaluateJobId(jobId);
    if (!e) return this.identifyReduce(jobId);
    const [split, version] = e.evalId.split('-') as [SplitName, string];
    const run = this.runs.get(e.runId);
    return {
      runId: e.runId,
      planned: evaluateJobId(e.runId, e.evalId, e.shard),
      copy: e.copy !== undefined,
      what: `evaluation ${e.evalId} shard ${e.shard}`,
      entry: () =>
        run &&
        evaluateJobs(e.runId, split, Number(version), run.splits[split].length, run.config.evaluation.rowsPerShard)[
          e.shard
        ],
    };
  }

  /**
   * A reduce job id of a sliced run. Its copy may only be queued while the step waits for its
   * slices (`deferred`): a copy that runs before the step's state exists completes doing nothing.
   */
  private identifyReduce(jobId: string) {
    const r = parseReduceJobId(jobId);
    if (!r) return null;
    const run = this.runs.get(r.runId);
    const inPlan = run && slicingApplies(run.config) && r.step < run.plan.totalSteps;
    const ranges = () => sliceRanges(run!.paramCount, run!.config.reduce.slices);
    return {
      runId: r.runId,
      planned: reduceJobId(r.runId, r.step, r.slice),
      copy: r.copy !== undefined,
      what: `step ${r.step} slice ${r.slice}`,
      deferred: true,
      entry: () => (inPlan ? reduceStep(r.runId, run.config, run.plan, ranges(), r.step).jobs[r.slice] : undefined),
    };
  }

  /**
   * `awaited(id)`: whether a wait of the run's driver is waiting on planned job `id` now (a reduce
   * job's copy is queued only then; its failure read back during that wait gets the copy).
   */
  async handle(jobId: string, reason: string, awaited: (id: string) => boolean = () => true): Promise<FailureOutcome> {
    const named = this.identify(jobId);
    if (!named || !this.runs.has(named.runId)) return { jobId, reason: this.explainStall(jobId, reason) };
    const { planned } = named;
    const waited = named.copy ? planned : jobId;
    if (!reason.includes(PLAN_MISMATCH)) return { jobId: waited, reason: this.explainStall(jobId, reason) };
    // a step past the run's end, or a shard past its split, has no planned job to put back
    const entry = named.entry();
    if (!entry) return { jobId };
    // an event and a re-read of the job's state both report a failure: one copy for it
    if (this.repaired.has(jobId)) return { jobId: waited };
    if ('deferred' in named && !awaited(planned)) return { jobId: waited };
    const n = (this.repairs.get(planned) ?? 0) + 1;
    if (n > MAX_REPAIRS)
      return {
        jobId: waited,
        reason: `${named.what}: ${MAX_REPAIRS} ${COPIES_QUEUED}; the last: ${reason}`,
      };
    this.repairs.set(planned, n);
    this.repaired.add(jobId);
    const copy = repairJobId(planned, n);
    this.logger.warn(`job ${jobId} was not the run's planned job (${reason}); queued the planned one as ${copy}`);
    await this.queue.add(entry.name, entry.data, { ...entry.opts, jobId: copy });
    return { jobId: waited };
  }

  /** A job that stalled too often: the reason names its shard and the memory the estimate gives it. */
  private explainStall(jobId: string, reason: string): string {
    if (!STALLED.test(reason)) return reason;
    const deaths = `was lost with its worker ${this.limits.maxWorkerDeaths} times (${reason}; NNQ_MAX_WORKER_DEATHS)`;
    const g = parseGradientJobId(jobId);
    const e = g ? null : parseEvaluateJobId(jobId);
    const run = this.runs.get(g?.runId ?? e?.runId ?? '');
    if (!run || !(g || e)) return `job ${jobId} ${deaths}`;
    let what: string;
    let rows: number;
    if (g) {
      const r = run.plan.shardRange(g.step, Math.min(g.shard, run.plan.shards - 1));
      what = `gradient shard ${g.shard} of step ${g.step}`;
      rows = r.end - r.start;
    } else {
      what = `evaluation shard ${e!.shard} of ${e!.evalId}`;
      rows = run.config.evaluation.rowsPerShard;
    }
    const m = estimateShardMemory(run.config.model, g ? 'gradient' : 'evaluation', rows);
    const parts = `activations ${formatMb(m.activations)}, parameters ${formatMb(m.params)}`;
    const budget = `NNQ_WORKER_MEMORY_MB is ${this.limits.workerMemoryMb} MB`;
    const need = `a ${rows}-row shard needs about ${formatMb(m.total)} (${parts}; ${budget})`;
    return `${what} ${deaths}: by the run's estimate ${need}: give the workers more memory, or use smaller shards`;
  }
}

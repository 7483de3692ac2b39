import { Logger } from '@nestjs/common';
import { gradientJobId, parseGradientJobId, PLAN_MISMATCH, repairJobId } from '@nnq/protocol';
import { estimateShardMemory, formatMb, type RunConfig, type RunPlan } from '@nnq/training';
import type { Queue } from 'bullmq';
import { gradientJobs } from './step-jobs';

/** Correct copies of one shard's job queued after squatted ids before its run fails instead. */
export const MAX_REPAIRS = 3;

/** BullMQ's reason for a job that stalled (its worker died) more than maxStalledCount times. */
const STALLED = /stalled more than allowable limit/;

/** `<run>-<split>-<version>-e<shard>` (evaluateJobId). */
const EVALUATE_ID = /^(.+)-(validation|test|train)-(\d+)-e(\d+)$/;

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
 * - a gradient job a worker refused as not in the run's plan took one of the run's job ids (BullMQ
 *   ignored the coordinator's own add of that id): the planned job is queued again under
 *   `<id>-f<n>`, up to MAX_REPAIRS times, and the run goes on with its fault-free bytes;
 * - a job that stalled too often killed its workers (NNQ_MAX_WORKER_DEATHS): the run fails with a
 *   reason naming the shard and the memory the run's estimate gives it.
 */
export class JobFailures {
  private readonly logger = new Logger(JobFailures.name);
  private readonly runs = new Map<string, { config: RunConfig; plan: RunPlan }>();
  /** Copies queued per planned job id. */
  private readonly repairs = new Map<string, number>();
  /** Failed ids whose planned job was queued again: the same failure read again changes nothing. */
  private readonly repaired = new Set<string>();

  constructor(
    private readonly queue: Pick<Queue, 'add'>,
    private readonly limits: { workerMemoryMb: number; maxWorkerDeaths: number },
  ) {}

  /** A run being driven here: its plan tells a squatted job's right payload. */
  track(runId: string, config: RunConfig, plan: RunPlan): void {
    this.runs.set(runId, { config, plan });
  }

  untrack(runId: string): void {
    this.runs.delete(runId);
    for (const id of this.repairs.keys()) if (parseGradientJobId(id)?.runId === runId) this.repairs.delete(id);
    for (const id of this.repaired) if (parseGradientJobId(id)?.runId === runId) this.repaired.delete(id);
  }

  /** The id of the last copy queued for a planned gradient job id, if any. */
  latestCopy(jobId: string): string | undefined {
    const n = this.repairs.get(jobId);
    return n ? repairJobId(jobId, n) : undefined;
  }

  async handle(jobId: string, reason: string): Promise<FailureOutcome> {
    const named = parseGradientJobId(jobId);
    const run = named && this.runs.get(named.runId);
    if (!named || !run) return { jobId, reason: this.explainStall(jobId, reason) };
    const planned = gradientJobId(named.runId, named.step, named.shard);
    const waited = named.copy?.startsWith('f') ? planned : jobId;
    if (!reason.includes(PLAN_MISMATCH)) return { jobId: waited, reason: this.explainStall(jobId, reason) };
    // a step past the run's end has no planned job to put back
    if (named.step >= run.plan.totalSteps || named.shard >= run.plan.shards) return { jobId };
    // an event and a re-read of the job's state both report a failure: one copy for it
    if (this.repaired.has(jobId)) return { jobId: waited };
    const n = (this.repairs.get(planned) ?? 0) + 1;
    if (n > MAX_REPAIRS)
      return {
        jobId: waited,
        reason: `step ${named.step} shard ${named.shard}: ${MAX_REPAIRS} copies of its job were queued after jobs not in the run's plan took its ids; the last: ${reason}`,
      };
    this.repairs.set(planned, n);
    this.repaired.add(jobId);
    const entry = gradientJobs(named.runId, run.plan, named.step, true)[named.shard];
    const copy = repairJobId(planned, n);
    this.logger.warn(`job ${jobId} was not the run's planned job (${reason}); queued the planned one as ${copy}`);
    await this.queue.add(entry.name, entry.data, { ...entry.opts, jobId: copy });
    return { jobId: waited };
  }

  /** A job that stalled too often: the reason names its shard and the memory the estimate gives it. */
  private explainStall(jobId: string, reason: string): string {
    if (!STALLED.test(reason)) return reason;
    const deaths = `was lost with its worker ${this.limits.maxWorkerDeaths} times (${reason}; NNQ_MAX_WORKER_DEATHS)`;
    const named = parseGradientJobId(jobId);
    const evaluate = named ? null : EVALUATE_ID.exec(jobId);
    const run = this.runs.get(named?.runId ?? evaluate?.[1] ?? '');
    if (!run) return `job ${jobId} ${deaths}`;
    const { config, plan } = run;
    let what: string;
    let rows: number;
    if (named) {
      const r = plan.shardRange(named.step, Math.min(named.shard, plan.shards - 1));
      what = `gradient shard ${named.shard} of step ${named.step}`;
      rows = r.end - r.start;
    } else {
      what = `evaluation shard ${evaluate![4]} of ${evaluate![2]} at step ${evaluate![3]}`;
      rows = config.evaluation.rowsPerShard;
    }
    const e = estimateShardMemory(config.model, named ? 'gradient' : 'evaluation', rows);
    return `${what} ${deaths}: by the run's estimate a ${rows}-row shard needs about ${formatMb(e.total)} (activations ${formatMb(e.activations)}, parameters ${formatMb(e.params)}; NNQ_WORKER_MEMORY_MB is ${this.limits.workerMemoryMb} MB): give the workers more memory, or use smaller shards`;
  }
}

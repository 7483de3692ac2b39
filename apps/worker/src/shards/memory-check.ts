import { type EvaluateJob, type GradientJob } from '@nnq/protocol';
import { estimateShardMemory, formatMb, MB, type RunManifest } from '@nnq/training';
import { UnrecoverableError } from 'bullmq';

/**
 * Why this worker will not compute a shard, or null: by the run's memory estimate
 * (libs/training memory-budget.ts) its rows need more than this worker's NNQ_WORKER_MEMORY_MB.
 * The coordinator refuses such runs at submission against its own NNQ_WORKER_MEMORY_MB; a worker
 * given a smaller budget than the coordinator's refuses the job before it allocates anything,
 * rather than being killed by it (and the next worker after it).
 */
export function memoryProblem(job: GradientJob | EvaluateJob, m: RunManifest, budgetMb: number): string | null {
  const kind = job.kind === 'gradient' ? 'gradient' : 'evaluation';
  const e = estimateShardMemory(m.spec, kind, job.end - job.start);
  if (e.total <= budgetMb * MB) return null;
  const parts = `activations ${formatMb(e.activations)}, parameters ${formatMb(e.params)}`;
  const need = `a ${e.rows}-row ${kind} shard needs about ${formatMb(e.total)} (${parts})`;
  return `run ${job.runId}: ${need}, over this worker's NNQ_WORKER_MEMORY_MB of ${budgetMb} MB`;
}

/** Fail a shard this worker's budget cannot hold for good (UnrecoverableError). */
export function checkMemory(job: GradientJob | EvaluateJob, m: RunManifest, budgetMb: number): void {
  const problem = memoryProblem(job, m, budgetMb);
  if (problem) throw new UnrecoverableError(problem);
}

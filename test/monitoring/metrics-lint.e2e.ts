import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { hasTool } from '../support/tools';
import { TestCluster } from '../support/cluster';
import { waitForRun } from '../support/runs';
import { run, scrape, startCoordinatorAndWorker, submitXor } from './support';

const skip = !hasTool('promtool', 'test/monitoring/metrics-lint.e2e.ts');

/** `promtool check metrics` reads the exposition on stdin; any output is a complaint. */
async function lint(text: string): Promise<string> {
  const r = await run('promtool', ['check', 'metrics'], text);
  return `${r.stdout}${r.stderr}`.trim() + (r.code === 0 ? '' : `\n(exit ${r.code})`);
}

describe.skipIf(skip)('/metrics of both apps pass promtool check metrics after a training run', () => {
  const cluster = new TestCluster(inject('redisUrl'), 'metrics-lint');
  let coordinatorText = '';
  let workerText = '';
  let runId = '';

  beforeAll(async () => {
    const worker = await startCoordinatorAndWorker(cluster);
    runId = await submitXor(cluster, { steps: 20 });
    expect((await waitForRun(cluster.base, runId)).state).toBe('completed');
    [coordinatorText, workerText] = await Promise.all([scrape(cluster.base), scrape(worker.url)]);
  });

  afterAll(() => cluster.stop());

  it('coordinator: no complaints', async () => {
    expect(await lint(coordinatorText)).toBe('');
  });

  it('worker: no complaints', async () => {
    expect(await lint(workerText)).toBe('');
  });

  it('coordinator serves the training, queue and cluster series, labelled series from zero', () => {
    const t = coordinatorText;
    expect(t).toMatch(new RegExp(`^nnq_train_loss\\{run="${runId}",split="train",app="coordinator"\\} `, 'm'));
    expect(t).toMatch(new RegExp(`^nnq_train_step\\{run="${runId}",app="coordinator"\\} 20$`, 'm'));
    for (const state of ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'])
      expect(t).toMatch(new RegExp(`^nnq_queue_jobs\\{state="${state}",app="coordinator"\\} \\d+$`, 'm'));
    expect(t).toMatch(/^nnq_workers_live\{app="coordinator"\} 1$/m);
    expect(t).toMatch(/^nnq_redis_up\{app="coordinator"\} 1$/m);
    expect(t).toMatch(/^# TYPE nnq_jobs_stalled_total counter$/m);
    expect(t).toMatch(/^nnq_jobs_stalled_total\{app="coordinator"\} 0$/m);
    expect(t).toMatch(/^nnq_jobs_retried_total\{app="coordinator"\} 0$/m);
    // the run has finished, so it has no nnq_run_running series
    expect(t).toMatch(/^# TYPE nnq_run_running gauge$/m);
    expect(t).not.toMatch(new RegExp(`^nnq_run_running\\{run="${runId}"`, 'm'));
    expect(t).toMatch(/^nnq_steps_total\{app="coordinator"\} 20$/m);
  });

  it('worker serves its shard series', () => {
    expect(workerText).toMatch(/^nnq_shards_total\{kind="gradient",app="worker"\} [1-9]\d*$/m);
    expect(workerText).toMatch(
      /^nnq_shard_compute_duration_seconds_bucket\{le="\+Inf",app="worker",kind="gradient"\} /m,
    );
  });
});

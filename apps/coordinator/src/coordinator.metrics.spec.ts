import type { RunRecord } from '@nnq/protocol';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { CoordinatorMetrics } from './coordinator.metrics';

/** Series labelled with `run`, as `<metric>{split}` strings, from the registry's own view. */
async function seriesOf(registry: Registry, run: string): Promise<string[]> {
  const out: string[] = [];
  for (const m of await registry.getMetricsAsJSON()) {
    for (const v of m.values) if (v.labels.run === run) out.push(`${m.name}{${String(v.labels.split ?? '')}}`);
  }
  return out.sort();
}

const ended = (id: string, state: RunRecord['state']) => ({ id, state }) as RunRecord;

describe('CoordinatorMetrics run-labelled series', () => {
  it('are removed when their run ends; other runs keep theirs, the end is counted', async () => {
    const registry = new Registry();
    const m = new CoordinatorMetrics(registry);
    for (const run of ['a', 'b']) {
      m.step(run, 32, 0.5, 0.75, 0.01, 1.5, 3);
      m.evaluation(run, { split: 'validation', step: 3, loss: 0.4, accuracy: 0.8, rows: 10 });
    }
    m.evaluation('a', { split: 'test', step: 3, loss: 0.45, accuracy: 0.7, rows: 10 });
    // evaluation.curvature's two numbers (on the first evaluation of a step)
    const curvature = { hessianTopEigenvalue: 24.04, hessianTrace: 31.5 };
    m.evaluation('a', { split: 'validation', step: 4, loss: 0.4, accuracy: 0.8, rows: 10, ...curvature });
    const value = async (name: string) => (await registry.getSingleMetric(name)!.get()).values[0]?.value;
    expect([await value('nnq_hessian_top_eigenvalue'), await value('nnq_hessian_trace')]).toEqual([24.04, 31.5]);
    // 7 gauges: loss and accuracy per split (train, validation, test), step, gradient norm, learning rate,
    // the Hessian's top eigenvalue and trace
    expect(await seriesOf(registry, 'a')).toEqual([
      'nnq_gradient_norm{}',
      'nnq_hessian_top_eigenvalue{}',
      'nnq_hessian_trace{}',
      'nnq_learning_rate{}',
      'nnq_train_accuracy{test}',
      'nnq_train_accuracy{train}',
      'nnq_train_accuracy{validation}',
      'nnq_train_loss{test}',
      'nnq_train_loss{train}',
      'nnq_train_loss{validation}',
      'nnq_train_step{}',
    ]);
    expect(await seriesOf(registry, 'b')).toHaveLength(7);

    m.runFinished(ended('a', 'completed'));
    expect(await seriesOf(registry, 'a')).toEqual([]);
    expect(await seriesOf(registry, 'b')).toHaveLength(7);
    m.runFinished(ended('b', 'cancelled'));
    expect(await seriesOf(registry, 'b')).toEqual([]);

    const finished = (await registry.getSingleMetric('nnq_runs_finished_total')!.get()).values;
    const count = (state: string) => finished.find((v) => v.labels.state === state)?.value;
    expect([count('completed'), count('cancelled'), count('failed')]).toEqual([1, 1, 0]);
  });

  it('a run that ends before its first step leaves nothing to remove, and nothing breaks', async () => {
    const registry = new Registry();
    const m = new CoordinatorMetrics(registry);
    m.runFinished(ended('never-stepped', 'failed'));
    expect(await seriesOf(registry, 'never-stepped')).toEqual([]);
  });

  it('stay NNQ_METRICS_LINGER_SECONDS after the end, so a scraper sees the last values, then go', async () => {
    vi.useFakeTimers();
    try {
      const registry = new Registry();
      const m = new CoordinatorMetrics(registry, { NNQ_METRICS_LINGER_SECONDS: 60 });
      m.step('a', 32, 0.5, 0.75, 0.01, 1.5, 3);
      m.runFinished(ended('a', 'completed'));
      vi.advanceTimersByTime(59_000);
      expect(await seriesOf(registry, 'a')).toHaveLength(5);
      vi.advanceTimersByTime(1_000);
      expect(await seriesOf(registry, 'a')).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });
});

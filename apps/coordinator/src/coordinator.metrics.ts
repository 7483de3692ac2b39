import { Inject, Injectable, Optional, type OnModuleDestroy } from '@nestjs/common';
import { METRICS_REGISTRY, NNQ_CONFIG, type NnqConfig } from '@nnq/cluster';
import type { Evaluation } from '@nnq/training';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { SPLIT_NAMES, type RunRecord } from '@nnq/protocol';

export const STEP_PHASES = ['dispatch', 'wait', 'sum', 'optimizer', 'publish'] as const;
export type StepPhase = (typeof STEP_PHASES)[number];

/**
 * The coordinator's series. The run label appears only on the training gauges (loss, accuracy,
 * step, gradient norm, learning rate, the Hessian's top eigenvalue and trace), and only while the
 * run trains and NNQ_METRICS_LINGER_SECONDS after (so a scraper sees its last values): then they are
 * removed (the last values stay in the run's history), so finished runs and sweep trials leave no
 * dead series.
 * Everything else is aggregated.
 */
@Injectable()
export class CoordinatorMetrics implements OnModuleDestroy {
  private readonly loss: Gauge<'run' | 'split'>;
  private readonly accuracy: Gauge<'run' | 'split'>;
  private readonly stepGauge: Gauge<'run'>;
  private readonly gradNorm: Gauge<'run'>;
  private readonly lr: Gauge<'run'>;
  private readonly hessianTop: Gauge<'run'>;
  private readonly hessianTrace: Gauge<'run'>;
  private readonly steps: Counter;
  private readonly samples: Counter;
  private readonly phases: Histogram<'phase'>;
  private readonly bytesMoved: Counter<'kind'>;
  private readonly nonFiniteSteps: Counter;
  private readonly runsFinished: Counter<'state'>;
  private readonly stragglerShards: Counter;
  private readonly lingerMs: number;
  /** Finished runs whose series are still shown, with the timer that removes them. */
  private readonly lingering = new Map<string, NodeJS.Timeout>();

  constructor(
    @Inject(METRICS_REGISTRY) readonly registry: Registry,
    @Optional() @Inject(NNQ_CONFIG) config?: Pick<NnqConfig, 'NNQ_METRICS_LINGER_SECONDS'>,
  ) {
    this.lingerMs = (config?.NNQ_METRICS_LINGER_SECONDS ?? 0) * 1000;
    const registers = [registry];
    this.loss = new Gauge({
      name: 'nnq_train_loss',
      help: 'Mean loss per row: split=train is the last step batch, validation and test the last evaluation.',
      labelNames: ['run', 'split'],
      registers,
    });
    this.accuracy = new Gauge({
      name: 'nnq_train_accuracy',
      help: 'Accuracy (0-1), by split as nnq_train_loss.',
      labelNames: ['run', 'split'],
      registers,
    });
    // the run's training gauges: one series per run, labelled by its id
    const runGauge = (name: string, help: string) => new Gauge({ name, help, labelNames: ['run'] as const, registers });
    this.stepGauge = runGauge('nnq_train_step', 'Steps completed by the run.');
    this.gradNorm = runGauge('nnq_gradient_norm', 'Global L2 norm of the mean gradient of the last step.');
    this.lr = runGauge('nnq_learning_rate', 'Learning rate of the last step.');
    this.hessianTop = runGauge(
      'nnq_hessian_top_eigenvalue',
      'Top Hessian eigenvalue of the training loss at the last evaluation (runs with evaluation.curvature).',
    );
    this.hessianTrace = runGauge(
      'nnq_hessian_trace',
      'Hutchinson estimate of the Hessian trace of the training loss at the last evaluation (as above).',
    );
    this.steps = new Counter({ name: 'nnq_steps_total', help: 'Synchronous steps completed, all runs.', registers });
    this.samples = new Counter({ name: 'nnq_samples_total', help: 'Training rows processed, all runs.', registers });
    this.phases = new Histogram({
      name: 'nnq_step_phase_duration_seconds',
      help: 'Time of each phase of a synchronous step on the coordinator.',
      labelNames: ['phase'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.bytesMoved = new Counter({
      name: 'nnq_coordinator_bytes_total',
      help: 'Bytes the coordinator moved through Redis: gradients read, parameters written.',
      labelNames: ['kind'],
      registers,
    });
    this.nonFiniteSteps = new Counter({
      name: 'nnq_nonfinite_steps_total',
      help: 'Steps whose loss or gradient was NaN or infinite.',
      registers,
    });
    this.runsFinished = new Counter({
      name: 'nnq_runs_finished_total',
      help: 'Runs that ended, by final state.',
      labelNames: ['state'],
      registers,
    });
    this.stragglerShards = new Counter({
      name: 'nnq_straggler_shards_total',
      help: 'Shards queued again because they missed the straggler deadline.',
      registers,
    });
    for (const p of STEP_PHASES) this.phases.zero({ phase: p });
    for (const k of ['gradient', 'parameters']) this.bytesMoved.inc({ kind: k }, 0);
    for (const s of ['completed', 'failed', 'cancelled']) this.runsFinished.inc({ state: s }, 0);
  }

  phase(phase: StepPhase, seconds: number): void {
    this.phases.observe({ phase }, seconds);
  }

  bytes(kind: 'gradient' | 'parameters', n: number): void {
    this.bytesMoved.inc({ kind }, n);
  }

  stragglers(n: number): void {
    this.stragglerShards.inc(n);
  }

  nonFinite(): void {
    this.nonFiniteSteps.inc();
  }

  step(run: string, rows: number, loss: number, accuracy: number, lr: number, gradNorm: number, step: number): void {
    this.steps.inc();
    this.samples.inc(rows);
    this.loss.set({ run, split: 'train' }, loss);
    this.accuracy.set({ run, split: 'train' }, accuracy);
    this.lr.set({ run }, lr);
    this.gradNorm.set({ run }, gradNorm);
    this.stepGauge.set({ run }, step);
  }

  evaluation(run: string, e: Evaluation): void {
    this.loss.set({ run, split: e.split }, e.loss);
    this.accuracy.set({ run, split: e.split }, e.accuracy);
    if (e.hessianTopEigenvalue !== undefined) this.hessianTop.set({ run }, e.hessianTopEigenvalue);
    if (e.hessianTrace !== undefined) this.hessianTrace.set({ run }, e.hessianTrace);
  }

  /** Count the run's end and remove its series, after the linger. */
  runFinished(r: RunRecord): void {
    this.runsFinished.inc({ state: r.state });
    if (this.lingerMs === 0) return this.forgetRun(r.id);
    clearTimeout(this.lingering.get(r.id));
    this.lingering.set(r.id, setTimeout(() => this.forgetRun(r.id), this.lingerMs).unref());
  }

  /** Remove every series labelled with `run` now (removing one that was never set is a no-op). */
  forgetRun(run: string): void {
    clearTimeout(this.lingering.get(run));
    this.lingering.delete(run);
    for (const split of SPLIT_NAMES) {
      this.loss.remove({ run, split });
      this.accuracy.remove({ run, split });
    }
    for (const g of [this.stepGauge, this.gradNorm, this.lr, this.hessianTop, this.hessianTrace]) g.remove({ run });
  }

  onModuleDestroy(): void {
    for (const timer of this.lingering.values()) clearTimeout(timer);
    this.lingering.clear();
  }
}

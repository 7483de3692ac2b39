import { Inject, Injectable } from '@nestjs/common';
import { METRICS_REGISTRY } from '@nnq/cluster';
import { Counter, Histogram, type Registry } from 'prom-client';

const KINDS = ['gradient', 'evaluate'] as const;

/** The worker's own series (names by Prometheus conventions: nnq_ prefix, base units, _total). */
@Injectable()
export class WorkerMetrics {
  private readonly shardSeconds: Histogram<'kind'>;
  private readonly shards: Counter<'kind'>;
  private readonly samples: Counter<'kind'>;
  private readonly gradBytes: Counter;
  private readonly paramBytes: Counter;
  private readonly paramSeconds: Histogram;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry) {
    this.shardSeconds = new Histogram({
      name: 'nnq_shard_compute_duration_seconds',
      help: 'Time to compute one shard job (fetch, gather, forward and backward, write).',
      labelNames: ['kind'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    this.shards = new Counter({
      name: 'nnq_shards_total',
      help: 'Shard jobs computed.',
      labelNames: ['kind'],
      registers: [registry],
    });
    this.samples = new Counter({
      name: 'nnq_worker_samples_total',
      help: 'Rows processed by shard jobs.',
      labelNames: ['kind'],
      registers: [registry],
    });
    this.gradBytes = new Counter({
      name: 'nnq_gradient_bytes_written_total',
      help: 'Gradient bytes written to Redis.',
      registers: [registry],
    });
    this.paramBytes = new Counter({
      name: 'nnq_parameter_bytes_read_total',
      help: 'Parameter bytes read from Redis.',
      registers: [registry],
    });
    this.paramSeconds = new Histogram({
      name: 'nnq_parameter_fetch_duration_seconds',
      help: 'Time to fetch one parameter version from Redis.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    });
    for (const k of KINDS) {
      this.shards.inc({ kind: k }, 0);
      this.samples.inc({ kind: k }, 0);
    }
  }

  shardDone(kind: (typeof KINDS)[number], seconds: number, bytes: number, rows: number): void {
    this.shardSeconds.observe({ kind }, seconds);
    this.shards.inc({ kind });
    this.samples.inc({ kind }, rows);
    if (bytes) this.gradBytes.inc(bytes);
  }

  paramsFetched(bytes: number, seconds: number): void {
    this.paramBytes.inc(bytes);
    this.paramSeconds.observe(seconds);
  }
}

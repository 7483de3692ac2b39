import { Logger } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { outputUnits, type NetworkSpec } from '@nnq/nn';
import type { ComputeRequest, ComputeResponse, ShardBuffers } from './compute-messages';

export type { ShardBuffers } from './compute-messages';

export interface ComputeResult {
  loss: number;
  correct: number;
  /** The gradient: a view of `buffers.grad`, valid until the buffers are recycled. */
  grad: Float32Array;
  /** The shard's buffers, back from the thread: give them to `recycle` once the result is used. */
  buffers: ShardBuffers;
  /** The engine that computed it ('onnx', or 'reference' after a fallback). */
  engine: string;
}

interface Pending {
  resolve(r: ComputeResult): void;
  reject(e: Error): void;
  worker: Worker;
  paramCount: number;
}

/**
 * A fixed pool of compute threads (one per job slot). Each request goes to an idle thread; a
 * thread that dies is replaced and its request fails (BullMQ retries the job).
 */
export class ComputePool {
  private readonly logger = new Logger(ComputePool.name);
  private readonly idle: Worker[] = [];
  /** Requests waiting for an idle thread. */
  private readonly waiting: Array<{ resolve: (w: Worker) => void; reject: (e: Error) => void }> = [];
  private readonly pending = new Map<number, Pending>();
  private readonly threads = new Set<Worker>();
  /** What each thread holds: spec key -> parameters key. */
  private readonly held = new WeakMap<Worker, Map<string, string>>();
  /** Buffers of finished shards, for the next ones. */
  private readonly spare: ShardBuffers[] = [];
  private nextId = 1;
  private closed = false;
  /** Engine the threads report ('onnx', or 'reference' after a fallback) and why. */
  engine = 'onnx';
  fallbackReason?: string;

  constructor(
    private readonly size: number,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    for (let i = 0; i < size; i++) this.spawn();
  }

  private spawn(): void {
    const file = join(__dirname, 'compute.thread.js');
    if (!existsSync(file)) throw new Error(`compute thread ${file} is missing; run "npm run build"`);
    const w = new Worker(file, { env: this.env });
    this.threads.add(w);
    this.held.set(w, new Map());
    w.on('message', (res: ComputeResponse) => {
      const p = this.pending.get(res.id);
      this.pending.delete(res.id);
      this.release(w);
      if (!p) return this.recycle(res.buffers);
      if (res.ok) {
        if (res.engine !== this.engine && res.fallbackReason && !this.fallbackReason) {
          this.fallbackReason = res.fallbackReason;
          this.logger.warn(`compute engine fell back to ${res.engine}: ${res.fallbackReason}`);
        }
        this.engine = res.engine;
        const grad = res.buffers.grad.subarray(0, p.paramCount);
        p.resolve({ loss: res.loss, correct: res.correct, grad, buffers: res.buffers, engine: res.engine });
      } else {
        this.recycle(res.buffers);
        p.reject(new Error(res.error));
      }
    });
    w.on('error', (err) => this.logger.error(`compute thread failed: ${err.message}`));
    w.on('exit', (code) => {
      this.threads.delete(w);
      const i = this.idle.indexOf(w);
      if (i >= 0) this.idle.splice(i, 1);
      for (const [id, p] of this.pending) {
        if (p.worker === w) {
          this.pending.delete(id);
          p.reject(new Error(`compute thread exited with ${code}`));
        }
      }
      if (!this.closed) this.spawn();
    });
    this.release(w);
  }

  private release(w: Worker): void {
    const next = this.waiting.shift();
    if (next) next.resolve(w);
    else this.idle.push(w);
  }

  private acquire(): Promise<Worker> {
    const w = this.idle.pop();
    return w ? Promise.resolve(w) : new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /**
   * Buffers for a shard of `rows` rows of a network (inputSize in, K out, P parameters): spare ones
   * that are large enough, or new ones. Fill x and y, then pass them to lossAndGrad.
   */
  buffers(spec: NetworkSpec, rows: number, paramCount: number): ShardBuffers {
    const xLen = rows * spec.inputSize;
    const yLen = rows * outputUnits(spec);
    const i = this.spare.findIndex(
      (b) => b.x.length >= xLen && b.y.length >= yLen && b.grad.length >= paramCount && b.params.length >= paramCount,
    );
    if (i >= 0) return this.spare.splice(i, 1)[0];
    const [x, y, grad, params] = [xLen, yLen, paramCount, paramCount].map((n) => new Float32Array(n));
    return { x, y, grad, params };
  }

  /** Keep a shard's buffers for the next shard (at most two sets per thread; older ones go). */
  recycle(b: ShardBuffers): void {
    if (b.x.buffer.byteLength === 0) return; // detached: moved to a thread that has not sent it back
    this.spare.push(b);
    if (this.spare.length > 2 * this.size) this.spare.shift();
  }

  /**
   * Loss, correct count and gradient of the first `batch` rows of `buffers` (which move to the
   * thread and back) at `params`, which are copied into `buffers.params` before anything is
   * awaited (the caller's buffer may be reused for other parameters then).
   */
  async lossAndGrad(
    specKey: string,
    spec: NetworkSpec,
    params: Float32Array,
    paramsKey: string,
    buffers: ShardBuffers,
    batch: number,
  ): Promise<ComputeResult> {
    if (this.closed) throw new Error('compute pool is closed');
    const paramCount = params.length;
    buffers.params.set(params);
    const w = await this.acquire();
    const id = this.nextId++;
    return new Promise<ComputeResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker: w, paramCount });
      const held = this.held.get(w)!;
      const freshParams = held.get(specKey) !== paramsKey;
      held.set(specKey, paramsKey);
      const req: ComputeRequest = { id, specKey, spec, paramsKey, freshParams, paramCount, buffers, batch };
      // every buffer moves to the thread and back, parameters included: nothing is allocated a
      // version. (Parameters in shared memory, as before, leaked: V8 does not count a
      // SharedArrayBuffer's memory, the thread never collected its handles, and a worker grew by
      // a copy of the parameters a step, to 3 GB in a 15-epoch Fashion-MNIST run.)
      const b = buffers;
      w.postMessage(req, [b.x.buffer, b.y.buffer, b.grad.buffer, b.params.buffer] as ArrayBuffer[]);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // requests still waiting for a thread fail (their jobs go back to the queue) instead of hanging
    for (const w of this.waiting.splice(0)) w.reject(new Error('compute pool is closed'));
    await Promise.all([...this.threads].map((t) => t.terminate()));
  }
}

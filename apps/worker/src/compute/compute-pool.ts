import { Logger } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { outputUnits, type NetworkSpec } from '@nnq/nn';
import {
  transferList,
  type ComputeRequest,
  type CurvatureRequest,
  type ShardBuffers,
  type ThreadResponse,
} from './compute-messages';

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

/** A shard's G v: float64 LE bytes, and the shard's buffers back from the thread (to recycle). */
export interface CurvatureResult {
  gv: Buffer;
  buffers: ShardBuffers;
}

interface Pending {
  /** Settle the request's promise with the thread's response (its buffers are the caller's or recycled). */
  settle(res: ThreadResponse): void;
  reject(e: Error): void;
  worker: Worker;
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
  /** The thread that last computed each curvature point (it keeps the point's forward pass). */
  private readonly pointThread = new Map<string, Worker>();
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
    w.on('message', (res: ThreadResponse) => {
      const p = this.pending.get(res.id);
      this.pending.delete(res.id);
      this.release(w);
      if (p) p.settle(res);
      else this.recycle(res.buffers);
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

  /** An idle thread (`prefer` when it is idle), or the next one released. */
  private acquire(prefer?: Worker): Promise<Worker> {
    const at = prefer ? this.idle.indexOf(prefer) : -1;
    const w = at >= 0 ? this.idle.splice(at, 1)[0] : this.idle.pop();
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
      const settle = (res: ThreadResponse) => {
        if (res.kind !== 'loss-and-grad' || !res.ok) {
          this.recycle(res.buffers);
          return reject(new Error(res.ok ? `compute thread answered ${res.kind} to loss-and-grad` : res.error));
        }
        if (res.engine !== this.engine && res.fallbackReason && !this.fallbackReason) {
          this.fallbackReason = res.fallbackReason;
          this.logger.warn(`compute engine fell back to ${res.engine}: ${res.fallbackReason}`);
        }
        this.engine = res.engine;
        const grad = res.buffers.grad.subarray(0, paramCount);
        resolve({ loss: res.loss, correct: res.correct, grad, buffers: res.buffers, engine: res.engine });
      };
      this.pending.set(id, { settle, reject, worker: w });
      const held = this.held.get(w)!;
      const freshParams = held.get(specKey) !== paramsKey;
      held.set(specKey, paramsKey);
      const req: ComputeRequest = {
        kind: 'loss-and-grad',
        id,
        specKey,
        spec,
        paramsKey,
        freshParams,
        paramCount,
        buffers,
        batch,
      };
      // every buffer moves to the thread and back, parameters included: nothing is allocated a
      // version. (Parameters in shared memory, as before, leaked: V8 does not count a
      // SharedArrayBuffer's memory, the thread never collected its handles, and a worker grew by
      // a copy of the parameters a step, to 3 GB in a 15-epoch Fashion-MNIST run.)
      w.postMessage(req, transferList(req));
    });
  }

  /**
   * G v of a shard (libs/nn CurvatureNetwork, float64) at the point `params` (float32) for the
   * first `batch` rows of `buffers`, along `v` (float64 LE bytes, copied once into a buffer that
   * moves to the thread and back holding G v). Off the event loop, as lossAndGrad: a long product
   * must not stop BullMQ's lock renewal. The thread that computed the point before gets it when
   * idle (it keeps the point's forward pass); any other runs the forward pass again, same bytes.
   */
  async curvature(
    pointKey: string,
    spec: NetworkSpec,
    params: Float32Array,
    buffers: ShardBuffers,
    batch: number,
    v: Uint8Array,
  ): Promise<CurvatureResult> {
    if (this.closed) throw new Error('compute pool is closed');
    const paramCount = params.length;
    buffers.params.set(params);
    // a fresh ArrayBuffer of its own (a Buffer from Redis may share a pool's), so it can move
    const vector = new ArrayBuffer(v.byteLength);
    new Uint8Array(vector).set(v);
    const w = await this.acquire(this.pointThread.get(pointKey));
    this.pointThread.delete(pointKey);
    this.pointThread.set(pointKey, w);
    while (this.pointThread.size > 8 * this.size) this.pointThread.delete(this.pointThread.keys().next().value!);
    const id = this.nextId++;
    return new Promise<CurvatureResult>((resolve, reject) => {
      const settle = (res: ThreadResponse) => {
        if (res.kind !== 'curvature' || !res.ok) {
          this.recycle(res.buffers);
          return reject(new Error(res.ok ? `compute thread answered ${res.kind} to curvature` : res.error));
        }
        resolve({ gv: Buffer.from(res.vector), buffers: res.buffers });
      };
      this.pending.set(id, { settle, reject, worker: w });
      const req: CurvatureRequest = { kind: 'curvature', id, pointKey, spec, paramCount, buffers, batch, vector };
      w.postMessage(req, transferList(req));
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

import { Logger } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { NetworkSpec } from '@nnq/nn';
import type { ComputeRequest, ComputeResponse } from './compute-messages';

export interface ComputeResult {
  loss: number;
  correct: number;
  grad: Float32Array;
}

interface Pending {
  resolve(r: ComputeResult): void;
  reject(e: Error): void;
}

/**
 * A fixed pool of compute threads (one per job slot). Each request goes to an idle thread; a
 * thread that dies is replaced and its request fails (BullMQ retries the job).
 */
export class ComputePool {
  private readonly logger = new Logger(ComputePool.name);
  private readonly idle: Worker[] = [];
  private readonly waiting: Array<(w: Worker) => void> = [];
  private readonly pending = new Map<number, Pending>();
  private readonly threads = new Set<Worker>();
  /** What each thread holds: spec key -> parameters key. */
  private readonly held = new WeakMap<Worker, Map<string, string>>();
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
      if (!p) return;
      if (res.ok) {
        if (res.engine !== this.engine && res.fallbackReason && !this.fallbackReason) {
          this.fallbackReason = res.fallbackReason;
          this.logger.warn(`compute engine fell back to ${res.engine}: ${res.fallbackReason}`);
        }
        this.engine = res.engine;
        p.resolve({ loss: res.loss, correct: res.correct, grad: res.grad });
      } else p.reject(new Error(res.error));
    });
    w.on('error', (err) => this.logger.error(`compute thread failed: ${err.message}`));
    w.on('exit', (code) => {
      this.threads.delete(w);
      const i = this.idle.indexOf(w);
      if (i >= 0) this.idle.splice(i, 1);
      for (const [id, p] of this.pending) {
        if ((p as Pending & { worker?: Worker }).worker === w) {
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
    if (next) next(w);
    else this.idle.push(w);
  }

  private acquire(): Promise<Worker> {
    const w = this.idle.pop();
    return w ? Promise.resolve(w) : new Promise((r) => this.waiting.push(r));
  }

  async lossAndGrad(
    specKey: string,
    spec: NetworkSpec,
    params: Float32Array,
    paramsKey: string,
    x: Float32Array,
    y: Float32Array,
    batch: number,
  ): Promise<ComputeResult> {
    if (this.closed) throw new Error('compute pool is closed');
    const w = await this.acquire();
    const id = this.nextId++;
    return new Promise<ComputeResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker: w } as Pending);
      const held = this.held.get(w)!;
      const fresh = held.get(specKey) !== paramsKey;
      held.set(specKey, paramsKey);
      const req: ComputeRequest = {
        id,
        specKey,
        spec,
        paramsKey,
        params: fresh ? params : undefined,
        paramCount: params.length,
        x,
        y,
        batch,
      };
      // x and y are ours to give away; params stay cached in the main thread, so they are copied
      w.postMessage(req, [x.buffer as ArrayBuffer, y.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.threads].map((t) => t.terminate()));
  }
}

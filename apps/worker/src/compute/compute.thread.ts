import { createTrainingEngine, type TrainingEngine } from '@nnq/engine-onnx';
import { parentPort } from 'node:worker_threads';
import type { ComputeRequest, ComputeResponse } from './compute-messages';

// A compute thread: backprop runs here, so the worker's event loop keeps renewing BullMQ locks.
const engines = new Map<string, Promise<TrainingEngine>>();
const MAX_ENGINES = 8;
// the last parameters received per spec key: shards of one step share them
const lastParams = new Map<string, { key: string; params: Float32Array }>();

async function engineFor(req: ComputeRequest): Promise<TrainingEngine> {
  let e = engines.get(req.specKey);
  if (!e) {
    e = createTrainingEngine(req.spec, { threads: 1 });
    engines.set(req.specKey, e);
    while (engines.size > MAX_ENGINES) {
      const [oldest, old] = engines.entries().next().value as [string, Promise<TrainingEngine>];
      engines.delete(oldest);
      void old.then((o) => o.dispose()).catch(() => undefined);
    }
  }
  return e;
}

parentPort?.on('message', (req: ComputeRequest) => {
  void (async () => {
    let res: ComputeResponse;
    let transfer: ArrayBuffer[] = [];
    try {
      const engine = await engineFor(req);
      if (req.params) lastParams.set(req.specKey, { key: req.paramsKey, params: req.params });
      const held = lastParams.get(req.specKey);
      if (!held || held.key !== req.paramsKey) throw new Error(`compute thread lacks parameters ${req.paramsKey}`);
      const grad = new Float32Array(req.paramCount);
      const r = await engine.lossAndGrad(held.params, req.x, req.y, req.batch, grad);
      res = {
        id: req.id,
        ok: true,
        loss: r.loss,
        correct: r.correct,
        grad: r.grad,
        engine: engine.kind,
        fallbackReason: engine.fallbackReason,
      };
      transfer = [r.grad.buffer as ArrayBuffer];
    } catch (err) {
      res = { id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    parentPort!.postMessage(res, transfer);
  })();
});

import { createTrainingEngine, type TrainingEngine } from '@nnq/engine-onnx';
import { outputUnits } from '@nnq/nn';
import { parentPort } from 'node:worker_threads';
import {
  transferList,
  type ComputeRequest,
  type ComputeResponse,
  type CurvatureRequest,
  type CurvatureResponse,
  type ShardBuffers,
  type ThreadRequest,
} from './compute-messages';
import { CurvaturePoints } from './curvature-points';

// A compute thread: backprop and Gauss-Newton products run here, so the worker's event loop keeps
// renewing BullMQ locks.
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

/**
 * The thread's own copy of parameters that arrive in a request's buffers (which go back with the
 * response), written over the previous copy of the spec: a thread runs one request at a time, so
 * no computation still reads it.
 */
function ownCopy(specKey: string, sent: Float32Array): Float32Array {
  const prev = lastParams.get(specKey)?.params;
  const own = prev?.length === sent.length ? prev : new Float32Array(sent.length);
  own.set(sent);
  return own;
}

const outputs = (spec: ComputeRequest['spec']) => outputUnits(spec);
const points = new CurvaturePoints();

/** G v of a shard; the buffers and the vector (holding G v) go back either way. */
function curvature(req: CurvatureRequest): CurvatureResponse {
  const back = { kind: 'curvature' as const, id: req.id, buffers: req.buffers, vector: req.vector };
  try {
    points.product(req);
    return { ...back, ok: true };
  } catch (err) {
    return { ...back, ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

parentPort?.on('message', (req: ThreadRequest) => {
  if (req.kind === 'curvature') {
    const res = curvature(req);
    parentPort!.postMessage(res, transferList(res));
    return;
  }
  void (async () => {
    let res: ComputeResponse;
    const b: ShardBuffers = req.buffers;
    try {
      const engine = await engineFor(req);
      if (req.freshParams) {
        const own = ownCopy(req.specKey, b.params.subarray(0, req.paramCount));
        lastParams.set(req.specKey, { key: req.paramsKey, params: own });
      }
      const held = lastParams.get(req.specKey);
      if (!held || held.key !== req.paramsKey) throw new Error(`compute thread lacks parameters ${req.paramsKey}`);
      // views of the shard's rows; the gradient lands in the first paramCount values of b.grad
      const x = b.x.subarray(0, req.batch * req.spec.inputSize);
      const y = b.y.subarray(0, req.batch * outputs(req.spec));
      const r = await engine.lossAndGrad(held.params, x, y, req.batch, b.grad.subarray(0, req.paramCount));
      res = {
        kind: 'loss-and-grad',
        id: req.id,
        buffers: b,
        ok: true,
        loss: r.loss,
        correct: r.correct,
        engine: engine.kind,
        fallbackReason: engine.fallbackReason,
      };
    } catch (err) {
      res = {
        kind: 'loss-and-grad',
        id: req.id,
        buffers: b,
        ok: false,
        error: err instanceof Error ? err.message : String(err),
      };
    }
    parentPort!.postMessage(res, transferList(res));
  })();
});

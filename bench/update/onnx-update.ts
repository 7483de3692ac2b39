/**
 * Adam as an onnxruntime graph, one of the options bench/update measures: the same formula as
 * libs/nn's rule (update-rules.ts, Kingma & Ba's cheaper order) in float32 element-wise ops, so
 * every intermediate is rounded to float32 and the bytes differ from the reference (which keeps
 * doubles between the loads and the stores). The terms are graph inputs: they change every step.
 */
import { onnx } from 'onnx-proto';
import type * as Ort from 'onnxruntime-node';

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const TERMS = ['c', 'l2', 'b1', 'a1', 'b2', 'a2', 'alpha', 'epsHat', 'decay'] as const;

function valueInfo(name: string, dims: number[]): onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } };
}

/** The graph: inputs p, g, m, v [n] and the nine scalar terms; outputs p2, m2, v2. */
export function adamModel(n: number): Uint8Array {
  const nodes: onnx.INodeProto[] = [];
  let id = 0;
  const op = (type: string, a: string, b?: string, out = `t${id++}`) => {
    nodes.push({ opType: type, name: `${out}_${type}`, input: b === undefined ? [a] : [a, b], output: [out] });
    return out;
  };
  // g = c grad + l2 p;  m2 = b1 m + a1 g;  v2 = b2 v + a2 g g;  p2 = p - (alpha m2 / (sqrt(v2) + epsHat) + decay p)
  const g = op('Add', op('Mul', 'c', 'g'), op('Mul', 'l2', 'p'));
  op('Add', op('Mul', 'b1', 'm'), op('Mul', 'a1', g), 'm2');
  op('Add', op('Mul', 'b2', 'v'), op('Mul', op('Mul', 'a2', g), g), 'v2');
  const step = op('Div', op('Mul', 'alpha', 'm2'), op('Add', op('Sqrt', 'v2'), 'epsHat'));
  op('Sub', 'p', op('Add', step, op('Mul', 'decay', 'p')), 'p2');
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'nnq-bench-update',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'adam',
      node: nodes,
      input: [...['p', 'g', 'm', 'v'].map((x) => valueInfo(x, [n])), ...TERMS.map((t) => valueInfo(t, []))],
      output: ['p2', 'm2', 'v2'].map((x) => valueInfo(x, [n])),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** One session on one thread (as the workers' engines run); `update` writes p, m, v in place. */
export async function onnxAdam(ort: typeof Ort, n: number) {
  const session = await ort.InferenceSession.create(adamModel(n), {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  return {
    async update(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, terms: number[]) {
      const feeds: Record<string, Ort.Tensor> = {};
      for (const [name, data] of [
        ['p', p],
        ['g', g],
        ['m', m],
        ['v', v],
      ] as const)
        feeds[name] = new ort.Tensor('float32', data, [n]);
      TERMS.forEach((t, i) => (feeds[t] = new ort.Tensor('float32', Float32Array.of(terms[i]), [])));
      const out = await session.run(feeds);
      p.set(out.p2.data as Float32Array);
      m.set(out.m2.data as Float32Array);
      v.set(out.v2.data as Float32Array);
    },
    release: () => session.release(),
  };
}

import { loadDataset } from '@nnq/data';
import { readModel } from '@nnq/nn';
import type { SweepView } from '@nnq/protocol';
import { parseRunConfig, setupRun, type KerasWeights } from '@nnq/training';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TestCluster } from './support/cluster';
import { appMain } from './support/processes';
import { exampleConfig, submitRun, waitForRun } from './support/runs';
import { waitForSweep } from './support/sweeps';
import { hasTool } from './support/tools';

// Models that leave nnq: a spirals run (standardized inputs, softmax over 2 classes) trained on the
// cluster, exported by GET /runs/:id/model.onnx and `nnq export`, run in fresh onnxruntime-node and
// onnxruntime-web (WebAssembly) sessions on the raw rows of its test split, against `nnq predict`.
const config = { ...exampleConfig('spirals.json'), name: 'export-spirals', epochs: 6 };
const TOLERANCE = 1e-5;
const hasOnnxChecker = hasTool('python3-onnx', "test/export.e2e.ts's ONNX checker test");

/**
 * `nnq <args>` in a child process: exit code, stdout, stderr apart. Asynchronous: a blocked event
 * loop would keep fetch from seeing the coordinator close an idle keep-alive socket, and the next
 * request would go out on it ("other side closed").
 */
function nnq(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = { PATH: process.env.PATH };
    execFile(process.execPath, [appMain('cli'), ...args], { env }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

async function fetchBytes(url: string): Promise<Buffer> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return Buffer.from(await res.arrayBuffer());
}

/** Largest |a - b| over two equal-length lists of rows. */
function maxDiff(a: number[][], b: ArrayLike<number>[]): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  a.forEach((row, r) => row.forEach((v, k) => (m = Math.max(m, Math.abs(v - b[r][k])))));
  return m;
}

const rowsOf = (flat: Float32Array, K: number) =>
  Array.from({ length: flat.length / K }, (_, r) => Array.from(flat.subarray(r * K, (r + 1) * K)));

describe('nnq export and GET /runs/:id/model.onnx', () => {
  const cluster = new TestCluster(inject('redisUrl'), 'export');
  const dir = mkdtempSync(join(tmpdir(), 'nnq-export-'));
  const modelFile = join(dir, 'model.safetensors');
  let runId = '';
  let served: Buffer = Buffer.alloc(0);
  let testRows: number[][] = [];
  let predicted: number[][] = [];

  beforeAll(async () => {
    await cluster.startCoordinator();
    await cluster.addWorker();
    const run = await submitRun(cluster.base, config);
    runId = run.id;
    expect((await waitForRun(cluster.base, run.id, 120_000)).state).toBe('completed');
    writeFileSync(modelFile, await fetchBytes(`${cluster.base}/runs/${run.id}/model`));
    served = await fetchBytes(`${cluster.base}/runs/${run.id}/model.onnx`);
    // the raw rows of the run's test split, as the run drew it from its config and seed
    const runConfig = parseRunConfig(config);
    const dataset = loadDataset(runConfig.dataset.source!);
    const setup = setupRun(runConfig, dataset);
    testRows = Array.from(setup.splits.test, (i) => Array.from(dataset.x.subarray(i * 2, i * 2 + 2)));
    expect(testRows.length).toBe(200);
    const input = join(dir, 'test-split.json');
    writeFileSync(input, JSON.stringify({ inputs: testRows }));
    const p = await nnq(['predict', modelFile, input]);
    expect(p.code, p.stderr).toBe(0);
    predicted = (JSON.parse(p.stdout) as { outputs: number[][] }).outputs;
  }, 180_000);

  afterAll(async () => {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('nnq export --onnx writes the bytes the coordinator serves', async () => {
    const out = join(dir, 'cli.onnx');
    const r = await nnq(['export', modelFile, '--onnx', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^nnq: wrote .*cli\.onnx \(ONNX, input \[batch, 2\] raw features, \d+ bytes\)$/m);
    expect(readFileSync(out).equals(served)).toBe(true);
  });

  it('predicts the raw test split as nnq predict does, in onnxruntime-node and onnxruntime-web', async () => {
    const x = Float32Array.from(testRows.flat());
    const feeds = <T>(Tensor: new (t: 'float32', d: Float32Array, dims: number[]) => T) => ({
      input: new Tensor('float32', x, [testRows.length, 2]),
    });
    const node = await ortNode.InferenceSession.create(served);
    const fromNode = (await node.run(feeds(ortNode.Tensor))).output.data as Float32Array;
    await node.release();
    ortWeb.env.wasm.numThreads = 1;
    const web = await ortWeb.InferenceSession.create(served, { executionProviders: ['wasm'] });
    const fromWeb = (await web.run(feeds(ortWeb.Tensor))).output.data as Float32Array;
    await web.release();
    expect(maxDiff(predicted, rowsOf(fromNode, 2))).toBeLessThanOrEqual(TOLERANCE);
    expect(maxDiff(predicted, rowsOf(fromWeb, 2))).toBeLessThanOrEqual(TOLERANCE);
    // the predictions are a trained network's, not constants: both classes appear
    const labels = new Set(predicted.map((o) => (o[0] > o[1] ? 0 : 1)));
    expect(labels.size).toBe(2);
  });

  it.runIf(hasOnnxChecker)("passes ONNX's checker with full shape inference, and carries its metadata", () => {
    const py = [
      'import json, sys, onnx',
      'm = onnx.load(sys.argv[1])',
      'onnx.checker.check_model(m, full_check=True)',
      'g = m.graph',
      'print(json.dumps({"meta": {p.key: p.value for p in m.metadata_props}, "doc": m.doc_string,',
      '  "inputs": [[v.name, v.doc_string] for v in g.input], "outputs": [[v.name, v.doc_string] for v in g.output]}))',
    ].join('\n');
    const path = join(dir, 'served.onnx');
    writeFileSync(path, served);
    const r = spawnSync('/usr/bin/python3', ['-c', py, path], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout) as {
      meta: Record<string, string>;
      doc: string;
      inputs: string[][];
      outputs: string[][];
    };
    const version = (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string })
      .version;
    expect(info.meta.nnq_version).toBe(version);
    expect(info.meta.nnq_run_id).toBe(runId);
    expect(JSON.parse(info.meta.nnq_spec)).toEqual(readModel(readFileSync(modelFile)).spec);
    expect(JSON.parse(info.meta.nnq_preprocessing).steps.map((s: { type: string }) => s.type)).toEqual(['standardize']);
    expect(info.doc).toBe(`nnq network export-spirals (run ${runId}), nnq ${version}`);
    expect(info.inputs).toEqual([['input', expect.stringMatching(/^raw features \[batch, 2\].*\(standardize\)/)]]);
    expect(info.outputs).toEqual([
      ['output', expect.stringMatching(/^h\(L\) \[batch, 2\].*one probability per class/)],
    ]);
  });

  it('nnq export --json writes Keras-style named arrays that reproduce nnq predict', async () => {
    const r = await nnq(['export', modelFile, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const k = JSON.parse(r.stdout) as KerasWeights;
    expect(k.weights.map((w) => `${w.name} [${w.shape.join(', ')}]`)).toEqual([
      'dense_1/kernel [2, 64]',
      'dense_1/bias [64]',
      'dense_2/kernel [64, 64]',
      'dense_2/bias [64]',
      'dense_3/kernel [64, 2]',
      'dense_3/bias [2]',
    ]);
    // the forward pass a reader would write from them: standardize, tanh, tanh, softmax
    const std = k.preprocessing!.steps[0] as { mean: number[]; std: number[] };
    const w = Object.fromEntries(k.weights.map((a) => [a.name, a.values]));
    const dense = (h: number[], n: number, f: (a: number[]) => number[]) => {
      const W = w[`dense_${n}/kernel`] as number[][];
      const b = w[`dense_${n}/bias`] as number[];
      return f(b.map((bk, j) => h.reduce((s, hi, i) => s + hi * W[i][j], bk)));
    };
    const tanh = (a: number[]) => a.map(Math.tanh);
    const softmax = (a: number[]) => {
      const e = a.map((v) => Math.exp(v - Math.max(...a)));
      return e.map((v) => v / e.reduce((s, u) => s + u, 0));
    };
    const outputs = testRows.map((row) => {
      const h0 = row.map((v, j) => (v - std.mean[j]) / std.std[j]);
      return dense(dense(dense(h0, 1, tanh), 2, tanh), 3, softmax);
    });
    expect(maxDiff(predicted, outputs)).toBeLessThanOrEqual(TOLERANCE);
  });

  it("GET /sweeps/:id/model.onnx is the best trial's model as ONNX", async () => {
    const res = await fetch(`${cluster.base}/sweeps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'export-sweep',
        seed: 1,
        base: { ...config, epochs: 1 },
        space: { 'optimizer.lr': { type: 'grid', values: [0.01] } },
        method: { type: 'grid' },
        objective: { metric: 'accuracy', split: 'validation', mode: 'max' },
        budget: { maxTrials: 1 },
        scheduler: { type: 'none' },
      }),
    });
    expect(res.status, cluster.coordinator!.output().slice(-3000)).toBe(201);
    const sweep = (await res.json()) as SweepView;
    const done = await waitForSweep<SweepView>(cluster.base, sweep.id, 120_000);
    expect(done.state).toBe('completed');
    const best = done.leaderboard[0].runId!;
    const fromSweep = await fetchBytes(`${cluster.base}/sweeps/${sweep.id}/model.onnx`);
    expect(fromSweep.equals(await fetchBytes(`${cluster.base}/runs/${best}/model.onnx`))).toBe(true);
    expect((await fetch(`${cluster.base}/runs/0123456789ab/model.onnx`)).status).toBe(404);
  });

  it('refuses an export without a format, or of a file that is not a model, by name (exit 2)', async () => {
    expect(await nnq(['export', modelFile])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--onnx <file>/) });
    const r = await nnq(['export', join(dir, 'test-split.json'), '--onnx', join(dir, 'x.onnx')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/test-split\.json: not an nnq model file/);
  });
});

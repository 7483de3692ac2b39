import { readModel } from '@nnq/nn';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '@nnq/launch';
import { TestCluster } from './support/cluster';
import { startApp } from './support/processes';
import { exampleConfig } from './support/runs';

/**
 * The second-order optimizers (#20) end to end: nnq train --local runs the two examples (the same
 * model bytes twice), nnq train runs them on a cluster to the same parameter bytes, and the
 * coordinator answers a bad second-order field with 400 by path (second-order-cluster.e2e.ts: more
 * configs, 1-3 workers and SIGKILLs).
 */
const example = (name: string) => resolve(__dirname, '..', 'examples', name);

describe('lbfgs and hessian_free with nnq train', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nnq-second-order-e2e-'));
  const cluster = new TestCluster(inject('redisUrl'), 'second-order');
  let env: NodeJS.ProcessEnv = {};

  beforeAll(async () => {
    // no coordinator answers here
    env = { NNQ_URL: `http://127.0.0.1:${await freePort()}`, NNQ_ENGINE: 'onnx' };
    await cluster.startCoordinator();
  });

  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await cluster.stop();
  });

  async function nnq(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string }> {
    const p = startApp('cli', { ...env, ...extra }, args);
    const code = await p.exited;
    return { code, out: p.output() };
  }

  it('nnq train --local fits XOR with L-BFGS, to the same model bytes twice', async () => {
    const outs = [join(dir, 'a.safetensors'), join(dir, 'b.safetensors')];
    for (const out of outs) {
      const r = await nnq(['train', '--local', example('xor-lbfgs.json'), '--out', out]);
      expect(r.code, r.out).toBe(0);
      expect(r.out).toMatch(/^run local \(xor-lbfgs\) completed: \d+\/100 steps$/m);
      // a stop before step 100 says why (at float32's floor the line search finds no decrease)
      const steps = Number(/completed: (\d+)\/100/.exec(r.out)![1]);
      if (steps < 100)
        expect(r.out).toMatch(/^the optimizer stopped after step \d+: lbfgs (converged|line search failed)/m);
      const loss = Number(/^ {2}train {7}loss ([\d.e+-]+)/m.exec(r.out)![1]);
      expect(loss).toBeLessThan(1e-6);
    }
    expect(readFileSync(outs[0]).equals(readFileSync(outs[1]))).toBe(true);
    expect(readModel(readFileSync(outs[0])).spec.layers).toHaveLength(2);
  });

  it('nnq train --local fits sin with Hessian-free below 1e-6 on its validation rows', async () => {
    const r = await nnq([
      'train',
      '--local',
      example('sine-hessian-free.json'),
      '--out',
      join(dir, 'sine.safetensors'),
    ]);
    expect(r.code, r.out).toBe(0);
    const validation = Number(/^ {2}validation {2}loss ([\d.e+-]+) {2}\(32 rows, step 200\)$/m.exec(r.out)![1]);
    expect(validation).toBeLessThan(1e-6);
  });

  it('nnq train without --local trains XOR with L-BFGS on the cluster, to the --local parameter bytes', async () => {
    await cluster.addWorker();
    const out = join(dir, 'cluster.safetensors');
    const r = await nnq(['train', example('xor-lbfgs.json'), '--out', out], { NNQ_URL: cluster.base });
    expect(r.code, r.out).toBe(0);
    const steps = Number(/completed: (\d+)\/100/.exec(r.out)![1]);
    if (steps < 100)
      expect(r.out).toMatch(/^the optimizer stopped after step \d+: lbfgs (converged|line search failed)/m);
    const params = (file: string) => {
      const p = readModel(readFileSync(file)).params;
      return Buffer.from(p.buffer, p.byteOffset, p.byteLength);
    };
    expect(params(out).equals(params(join(dir, 'a.safetensors')))).toBe(true);
  });

  it('POST /runs answers 400 naming a bad second-order field by path', async () => {
    const res = await fetch(`${cluster.base}/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...exampleConfig('xor-lbfgs.json'), optimizer: { type: 'lbfgs', history: 0 } }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { problems: string[] };
    expect(body.problems).toEqual([expect.stringMatching(/^optimizer\.history: must be at least 1/)]);
  });

  it('POST /runs answers 400 to a reduce strategy a second-order run would ignore, saying why', async () => {
    const res = await fetch(`${cluster.base}/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...exampleConfig('xor-lbfgs.json'), reduce: { strategy: 'sliced', slices: 2 } }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { problems: string[] };
    expect(body.problems).toEqual([
      expect.stringMatching(/^reduce\.strategy: "sliced" does not apply to lbfgs: .* on the coordinator; give "auto"/),
    ]);
  });
});

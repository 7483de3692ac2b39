import { createRng, initParams, paramLayout, parseSpec, type NetworkSpecInput } from '@nnq/nn';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileTrainingStep } from './training-step';

/**
 * Same inputs, same gradient bytes: across runs of one session, across sessions, and across
 * processes (a child node process running the swc-compiled library) at a fixed thread count.
 */
const SPECS: Record<string, NetworkSpecInput> = {
  mlp: {
    inputSize: 64,
    layers: [
      { units: 48, activation: 'relu' },
      { units: 32, activation: 'gelu' },
      { units: 10, activation: 'softmax' },
    ],
    loss: 'softmax_cross_entropy',
  },
  skips: {
    inputSize: 12,
    layers: [
      { units: 12, activation: 'tanh' },
      { units: 16, activation: 'elu' },
      { units: 16, activation: 'softplus' },
      { units: 3, activation: 'sigmoid' },
    ],
    skips: [
      { from: 0, to: 2, mode: 'add' },
      { from: 2, to: 4, mode: 'concat' },
    ],
    loss: 'sigmoid_binary_cross_entropy',
  },
  cnn: {
    inputShape: [12, 12, 2],
    layers: [
      { kind: 'conv2d', filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' },
      { kind: 'maxPool2d', poolSize: 2 },
      { kind: 'conv2d', filters: 8, kernelSize: [3, 2], strides: 2, activation: 'elu' },
      { kind: 'avgPool2d', poolSize: 2, strides: 1, padding: 'same' },
      { kind: 'flatten' },
      { units: 10, activation: 'softmax' },
    ],
    loss: 'softmax_cross_entropy',
  },
};
const BATCH = 96;

/** Everything derives from the seed, so a child process can rebuild the same inputs. */
function setup(name: string) {
  const spec = parseSpec(SPECS[name]);
  const rng = createRng(99);
  const params = initParams(spec, rng);
  const K = paramLayout(spec).widths[spec.layers.length];
  const x = Float32Array.from({ length: BATCH * spec.inputSize }, () => rng.normal());
  const y = Float32Array.from({ length: BATCH * K }, () => rng.int(2));
  return { spec, params, x, y };
}

const digest = (r: { loss: number; grad: Float32Array }) =>
  createHash('sha256')
    .update(Buffer.from(r.grad.buffer, r.grad.byteOffset, r.grad.byteLength))
    .update(String(r.loss))
    .digest('hex');

describe('determinism at a fixed thread count', () => {
  const root = resolve(__dirname, '../../..');
  let out = '';
  beforeAll(() => {
    // compile the libs as the build does (every lib: libs/nn's own imports may be any of them), for the child process
    out = mkdtempSync(join(tmpdir(), 'nnq-engine-onnx-'));
    execFileSync(
      process.execPath,
      [join(root, 'node_modules/@swc/cli/bin/swc.js'), 'libs', '-d', out, '-q', '--ignore', '**/*.spec.ts'],
      { cwd: root, stdio: 'pipe' },
    );
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it.each(Object.keys(SPECS))('%s: identical gradient bytes across runs, sessions and processes', async (name) => {
    const { spec, params, x, y } = setup(name);
    const a = compileTrainingStep(spec, { threads: 1 });
    const b = compileTrainingStep(spec, { threads: 1 });
    try {
      const first = digest(await a.run(params, x, y, BATCH));
      for (let i = 0; i < 3; i++) expect(digest(await a.run(params, x, y, BATCH))).toBe(first);
      expect(digest(await b.run(params, x, y, BATCH))).toBe(first);

      // the child rebuilds spec and data from the same seed and prints its digest
      const child = `
        const nn = require(${JSON.stringify(join(out, 'libs/nn/src'))});
        const eo = require(${JSON.stringify(join(out, 'libs/engine-onnx/src'))});
        const crypto = require('node:crypto');
        const spec = nn.parseSpec(${JSON.stringify(SPECS[name])});
        const rng = nn.createRng(99);
        const params = nn.initParams(spec, rng);
        const K = spec.layers[spec.layers.length - 1].units;
        const x = Float32Array.from({ length: ${BATCH} * spec.inputSize }, () => rng.normal());
        const y = Float32Array.from({ length: ${BATCH} * K }, () => rng.int(2));
        const step = eo.compileTrainingStep(spec, { threads: 1 });
        step.run(params, x, y, ${BATCH}).then(async (r) => {
          const grad = Buffer.from(r.grad.buffer, r.grad.byteOffset, r.grad.byteLength);
          const h = crypto.createHash('sha256').update(grad).update(String(r.loss)).digest('hex');
          process.stdout.write(h);
          await step.dispose();
        });`;
      const hash = execFileSync(process.execPath, ['-e', child], {
        cwd: root,
        env: { ...process.env, NODE_PATH: join(root, 'node_modules') },
        encoding: 'utf8',
      });
      expect(hash).toBe(first);
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });
});

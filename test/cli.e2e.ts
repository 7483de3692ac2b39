import { readModel } from '@nnq/nn';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { localClusterEnv } from './support/local-cluster-env';
import { startApp, uniquePrefix } from './support/processes';
import { deletePrefix } from './support/redis';

const XOR = resolve(__dirname, '..', 'examples', 'xor.json');

describe('nnq train, predict and train --local', () => {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('cli');
  const dir = mkdtempSync(join(tmpdir(), 'nnq-cli-e2e-'));
  const clusterModel = join(dir, 'cluster.safetensors');
  const localModel = join(dir, 'local.safetensors');
  let env: NodeJS.ProcessEnv = {};

  beforeAll(async () => {
    env = await localClusterEnv(redisUrl, prefix, dir);
  });

  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await deletePrefix(redisUrl, prefix);
  });

  async function nnq(args: string[]): Promise<{ code: number | null; out: string }> {
    const p = startApp('cli', env, args);
    const code = await p.exited;
    return { code, out: p.output() };
  }

  it('trains examples/xor.json on an embedded local cluster and writes the model', async () => {
    const { code, out } = await nnq(['train', XOR, '--out', clusterModel]);
    expect(code, out).toBe(0);
    expect(out).toMatch(/no coordinator answers at http:\/\/127\.0\.0\.1:\d+; starting a local cluster with 2 workers/);
    expect(out).toMatch(/^step \d+\/400 \(\d+%\) {2}epoch \d+\/100 {2}loss /m);
    expect(out).toMatch(
      /^run [0-9a-f]+ \(xor\) completed: 400\/400 steps\n {2}train {7}loss [\d.e+-]+ {2}\(last batch\)$/m,
    );
    expect(out).toContain(`model written to ${clusterModel}`);
    expect(out).not.toMatch(/\x1b|\r|\[Nest\]/); // eslint-disable-line no-control-regex
    const model = readModel(readFileSync(clusterModel));
    expect(model.spec.inputSize).toBe(2);
    expect(model.extra.name).toBe('xor');
  });

  it('predicts XOR with that model, in process, and names a wrong-width row', async () => {
    const input = join(dir, 'in.json');
    writeFileSync(
      input,
      JSON.stringify({
        inputs: [
          [0, 0],
          [0, 1],
          [1, 0],
          [1, 1],
        ],
      }),
    );
    const { code, out } = await nnq(['predict', clusterModel, input]);
    expect(code, out).toBe(0);
    const { outputs } = JSON.parse(out) as { outputs: number[][] };
    expect(outputs.map(([y]) => Math.abs(Math.round(y)))).toEqual([0, 1, 1, 0]);

    writeFileSync(input, '[0, 1]\n[1, 0, 1]\n');
    const bad = await nnq(['predict', clusterModel, input]);
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/in\.json: inputs\[1\]: has 3 values, the model takes 2/);
  });

  it('trains the same config in process with --local to bitwise the same weights', async () => {
    const { code, out } = await nnq(['train', '--local', XOR, '--out', localModel]);
    expect(code, out).toBe(0);
    expect(out).toMatch(/^run local \(xor\) completed: 400\/400 steps$/m);
    const local = readModel(readFileSync(localModel)).params;
    const cluster = readModel(readFileSync(clusterModel)).params;
    expect(Buffer.from(local.buffer, local.byteOffset, local.byteLength)).toEqual(
      Buffer.from(cluster.buffer, cluster.byteOffset, cluster.byteLength),
    );
  });

  it('refuses a bad config before starting anything, exit 2, naming the file and each problem by path', async () => {
    const config = JSON.parse(readFileSync(XOR, 'utf8')) as Record<string, unknown>;
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...config, batchSize: 0, model: { ...(config.model as object), loss: 'l2' } }));
    const { code, out } = await nnq(['train', bad]);
    expect(code).toBe(2);
    expect(out).toMatch(new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: invalid run config:`));
    expect(out).toMatch(/^ {2}model\.loss: /m);
    expect(out).toMatch(/^ {2}batchSize: must be at least 1$/m);
    expect(out).not.toMatch(/starting a local cluster/);

    writeFileSync(bad, '{\n  "name": "xor",\n  "seed": 1,\n}\n');
    const syntax = await nnq(['train', bad]);
    expect(syntax.code).toBe(2);
    expect(syntax.out).toMatch(/bad\.json:4:1: invalid JSON/);
  });
});

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createTrainingEngine } from '@nnq/engine-onnx';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '@nnq/launch';
import { startApp, stopApp, uniquePrefix, until, type AppProcess } from '../support/processes';
import { deletePrefix } from '../support/redis';
import { parseRunConfig, trainLocal } from '@nnq/training';
import { exampleConfig, modelParams, waitForRun, type RunView } from '../support/runs';

// Issue #24, "data sources are confined": a run config may name only files under the data roots
// (NNQ_DATA_ROOTS; here the default, NNQ_DATA_DIR and the Fashion-MNIST dir). Every refusal is a
// 400 naming dataset.source.<field>, the path and the roots, and quoting nothing of the file.
// Datasets from elsewhere are uploaded (POST /datasets) and named by id.

const MARKER = 'MARKER-SECRET-e2e-5d1c';
const TOKEN = 'data-roots-e2e-token-0123456789';
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('data sources are confined to the data roots', () => {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('dataroots');
  const base = mkdtempSync(join(tmpdir(), 'nnq-dataroots-'));
  const dataDir = join(base, 'data');
  const outside = join(base, 'outside');
  const secret = join(outside, 'secret.csv');
  const roots = `NNQ_DATA_ROOTS=${dataDir}:/usr/share/datasets/fashion-mnist`;
  const auth = { authorization: `Bearer ${TOKEN}` };
  const xor = { ...exampleConfig('xor.json'), steps: 30 };
  let coordinator: AppProcess;
  let worker: AppProcess;
  let url = '';
  /** A spirals run submitted first: it trains beside every refusal and must end with its fault-free bytes. */
  const spirals = { ...exampleConfig('spirals.json'), name: 'beside', epochs: 20 };
  let besideId = '';

  beforeAll(async () => {
    mkdirSync(dataDir);
    mkdirSync(outside);
    writeFileSync(secret, `x1,x2,y\n0,${MARKER},1\n`);
    symlinkSync(secret, join(dataDir, 'link.csv'));
    execFileSync('mkfifo', [join(dataDir, 'pipe.csv')]);
    writeFileSync(join(dataDir, 'big.csv'), 'x1,x2,y\n' + '0,1,1\n'.repeat(20_000)); // 120,008 bytes
    // inside the roots: a message may quote the cell's first 37 characters, escaped, never its tail
    writeFileSync(join(dataDir, 'cell.csv'), `x1,x2,y\n0,0,0\n1,\u001b[2J${'s'.repeat(300)}${MARKER},1\n`);
    const env = {
      REDIS_URL: redisUrl,
      NNQ_PREFIX: prefix,
      NNQ_DATA_DIR: dataDir,
      NNQ_HEARTBEAT_TTL_MS: '2000',
      NNQ_API_TOKEN: TOKEN,
      NNQ_MAX_DATASET_BYTES: '100000',
    };
    coordinator = startApp('coordinator', { ...env, NNQ_PORT: '0' });
    worker = startApp('worker', env);
    const [, port] = await coordinator.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
    await worker.waitFor(/serving \/health and \/metrics/);
    url = `http://127.0.0.1:${port}`;
    const beside = await post('/runs', spirals);
    expect(beside.status, await beside.clone().text()).toBe(201);
    besideId = ((await beside.json()) as RunView).id;
  });

  afterAll(async () => {
    await Promise.all([worker, coordinator].filter(Boolean).map((p) => stopApp(p)));
    await deletePrefix(redisUrl, prefix);
    rmSync(base, { recursive: true, force: true });
  });

  const post = (path: string, body: unknown) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const csvRun = (source: Record<string, unknown>) => ({
    ...xor,
    dataset: { source: { type: 'csv', labelColumns: ['y'], task: 'regression', ...source }, validation: 0, test: 0 },
  });

  /** POST /runs and the refusal's problem lines; the whole answer must not hold the marker. */
  async function refused(config: unknown): Promise<string[]> {
    const res = await post('/runs', config);
    const text = await res.text();
    expect(res.status, text).toBe(400);
    expect(text).not.toContain(MARKER);
    return (JSON.parse(text) as { problems: string[] }).problems;
  }

  const outsideRoots = `outside the data roots \\(${escape(roots)}\\)$`;
  it.each([
    ['/etc/shadow', () => '/etc/shadow', /^dataset\.source\.path: "\/etc\/shadow": /],
    ['/proc/self/environ', () => '/proc/self/environ', /^dataset\.source\.path: "\/proc\/self\/environ": /],
    ['/dev/zero', () => '/dev/zero', /^dataset\.source\.path: "\/dev\/zero": /],
    [
      'a relative path with ..',
      () => '../../../../etc/hostname',
      /^dataset\.source\.path: "\.\.\/\.\.\/\.\.\/\.\.\/etc\/hostname" \(".*\/etc\/hostname"\): /,
    ],
    ['a file outside the roots', () => secret, new RegExp(`^dataset\\.source\\.path: "${escape(secret)}": `)],
    [
      'a path that climbs out of a root with ..',
      () => `${dataDir}/../outside/secret.csv`,
      /^dataset\.source\.path: ".*\/data\/\.\.\/outside\/secret\.csv" \(".*\/outside\/secret\.csv"\): /,
    ],
  ])('refuses %s with a 400 naming the path and the roots', async (_, path, start) => {
    const problems = await refused(csvRun({ path: path() }));
    expect(problems).toEqual([expect.stringMatching(new RegExp(start.source + outsideRoots))]);
  });

  it('refuses a symbolic link out of the roots, IDX files and a Fashion-MNIST dir outside them', async () => {
    expect(await refused(csvRun({ path: join(dataDir, 'link.csv') }))).toEqual([
      `dataset.source.path: "${join(dataDir, 'link.csv')}": a symbolic link leads outside the data roots (${roots})`,
    ]);
    const idx = { ...xor, dataset: { source: { type: 'idx', images: secret, labels: '/etc/passwd' } } };
    const problems = await refused(idx);
    expect(problems).toEqual([
      expect.stringMatching(new RegExp(`^dataset\\.source\\.images: "${escape(secret)}": ${outsideRoots}`)),
      expect.stringMatching(new RegExp(`^dataset\\.source\\.labels: "/etc/passwd": ${outsideRoots}`)),
    ]);
    expect(await refused({ ...xor, dataset: { source: { type: 'fashion-mnist', dir: outside } } })).toEqual([
      expect.stringMatching(new RegExp(`^dataset\\.source\\.dir: "${escape(outside)}": ${outsideRoots}`)),
    ]);
  });

  it('refuses a sweep whose base source lies outside the roots', async () => {
    const sweep = exampleConfig('sweep-spirals.json');
    const res = await post('/sweeps', { ...sweep, base: csvRun({ path: secret }) });
    const text = await res.text();
    expect(res.status, text).toBe(400);
    expect(text).not.toContain(MARKER);
    expect((JSON.parse(text) as { problems: string[] }).problems).toEqual([
      expect.stringMatching(new RegExp(`^base\\.dataset\\.source\\.path: "${escape(secret)}": ${outsideRoots}`)),
    ]);
  });

  it('refuses a named pipe at once while /health keeps answering', async () => {
    const [problems, health] = await Promise.all([
      refused(csvRun({ path: join(dataDir, 'pipe.csv') })),
      fetch(`${url}/health`, { signal: AbortSignal.timeout(10_000) }),
    ]);
    expect(problems).toEqual([
      `dataset.source.path: "${join(dataDir, 'pipe.csv')}": cannot read: not a regular file (a named pipe)`,
    ]);
    expect(health.status).toBe(200);
    expect((await fetch(`${url}/health`, { signal: AbortSignal.timeout(10_000) })).status).toBe(200);
  });

  it('refuses a file over NNQ_MAX_DATASET_BYTES', async () => {
    expect(await refused(csvRun({ path: join(dataDir, 'big.csv') }))).toEqual([
      `dataset.source.path: "${join(dataDir, 'big.csv')}": holds 117.2 KiB, more than NNQ_MAX_DATASET_BYTES (97.7 KiB)`,
    ]);
  });

  it('quotes at most a short escaped excerpt of a bad cell inside the roots', async () => {
    const problems = await refused(csvRun({ path: join(dataDir, 'cell.csv') }));
    expect(problems).toEqual([
      expect.stringMatching(/^dataset: .*\/cell\.csv:3:3: non-numeric cell "\\u001b\[2Js{33}\.\.\." in column "x2"$/),
    ]);
  });

  const xorCsv = 'x1,x2,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n';

  it('registers an upload by content hash, and a run on its id completes', async () => {
    const upload = { format: 'csv', content: xorCsv, labelColumns: ['y'], task: 'regression', name: 'xor upload' };
    const unauthorised = await fetch(`${url}/datasets`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(upload),
    });
    expect(unauthorised.status).toBe(401);
    const res = await post('/datasets', upload);
    expect(res.status).toBe(201);
    const ds = (await res.json()) as { id: string; rows: number; created: boolean };
    expect(ds).toMatchObject({ id: expect.stringMatching(/^[0-9a-f]{64}$/), rows: 4, features: 2, created: true });
    expect(await (await post('/datasets', upload)).json()).toMatchObject({ id: ds.id, created: false });
    expect(await (await fetch(`${url}/datasets/${ds.id}`)).json()).toMatchObject({ id: ds.id, name: 'xor upload' });

    const submitted = await post('/runs', { ...xor, batchSize: 4, dataset: { id: ds.id, validation: 0, test: 0 } });
    const text = await submitted.text();
    expect(submitted.status, text).toBe(201);
    const run = JSON.parse(text) as RunView;
    const done = await until(
      async () => {
        const r = (await (await fetch(`${url}/runs/${run.id}`)).json()) as RunView;
        return ['completed', 'failed', 'cancelled'].includes(r.state) && r;
      },
      120_000,
      `run ${run.id} to end`,
    );
    expect(done.state).toBe('completed');
  });

  it('nnq dataset add uploads a file from outside the roots and prints its id', async () => {
    const file = join(outside, 'xor.csv');
    writeFileSync(file, xorCsv.replace('1,1,0', '1,1,0.5'));
    const cli = startApp('cli', { NNQ_URL: url, NNQ_API_TOKEN: TOKEN }, [
      'dataset',
      'add',
      file,
      '--label',
      'y',
      '--task',
      'regression',
    ]);
    expect(await cli.exited, cli.output()).toBe(0);
    const [, id] = /^registered: dataset ([0-9a-f]{64}) \(4 rows, 2 features, regression\)$/m.exec(cli.output()) ?? [];
    expect(id, cli.output()).toBeDefined();
    expect(cli.output()).toContain(`use it in a run config as "dataset": {"id": "${id}"}`);
    expect(((await (await fetch(`${url}/datasets`)).json()) as { id: string }[]).map((d) => d.id)).toContain(id);
  });

  it('documents POST /datasets on /docs', async () => {
    const doc = (await (await fetch(`${url}/docs-json`)).json()) as { paths: Record<string, { post?: unknown }> };
    expect(doc.paths['/datasets'].post).toMatchObject({
      requestBody: { content: { 'application/json': { schema: { required: ['format', 'content'] } } } },
    });
  });

  it('refuses a bad upload by path, quoting a short excerpt', async () => {
    const res = await post('/datasets', {
      format: 'csv',
      content: `x1,x2,y\n0,${MARKER}${'z'.repeat(99)},1\n`,
      labelColumns: ['y'],
    });
    const text = await res.text();
    expect(res.status, text).toBe(400);
    expect(JSON.parse(text)).toMatchObject({
      message: 'dataset refused',
      problems: [
        expect.stringMatching(/^content:2:3: non-numeric cell "MARKER-SECRET-e2e-5d1cz{15}\.\.\." in column "x2"$/),
      ],
    });
    const noLabel = await post('/datasets', { format: 'csv', content: xorCsv });
    expect(await noLabel.json()).toMatchObject({
      message: 'invalid dataset upload',
      problems: ['labelColumns: csv needs the label column(s) by header name'],
    });
  });

  it('trains the run beside them to its fault-free bytes', async () => {
    expect((await waitForRun(url, besideId, 200_000)).state).toBe('completed');
    const local = await trainLocal(parseRunConfig(spirals), { engine: createTrainingEngine });
    const bytes = Buffer.from(local.params.buffer, local.params.byteOffset, local.params.byteLength);
    expect((await modelParams(url, besideId)).equals(bytes)).toBe(true);
  });
});

describe('nnq train on an embedded cluster reads the files its config names', () => {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('dataroots-cli');
  const dir = mkdtempSync(join(tmpdir(), 'nnq-dataroots-cli-'));
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await deletePrefix(redisUrl, prefix);
  });

  it('trains on a CSV outside the default roots: the CLI adds that one file to them', async () => {
    const csv = join(dir, 'xor.csv');
    writeFileSync(csv, 'x1,x2,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n');
    const config = join(dir, 'xor-csv.json');
    const source = { type: 'csv', path: csv, labelColumns: ['y'], task: 'regression' };
    const run = { ...exampleConfig('xor.json'), steps: 20, batchSize: 4, dataset: { source, validation: 0, test: 0 } };
    writeFileSync(config, JSON.stringify(run));
    const port = await freePort(); // nothing answers there: nnq train embeds a cluster
    const cli = startApp(
      'cli',
      { REDIS_URL: redisUrl, NNQ_PREFIX: prefix, NNQ_DATA_DIR: join(dir, 'data'), NNQ_URL: `http://127.0.0.1:${port}` },
      ['train', config, '--workers', '1', '--out', join(dir, 'model.safetensors')],
    );
    expect(await cli.exited, cli.output()).toBe(0);
    expect(cli.output()).toMatch(/^run [0-9a-f]+ \(xor\) completed: 20\/20 steps/m);
  });
});

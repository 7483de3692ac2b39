import { loadDataset } from '@nnq/data';
import { KeySchema, SHARD_QUEUE } from '@nnq/protocol';
import { parseRunConfig, setupRun, type RunManifest } from '@nnq/training';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { getJson, startApp, stopApp, uniquePrefix, until, type AppProcess } from '../support/processes';
import { exampleConfig, submitRun, waitForRun } from '../support/runs';

// Issue #7, bad input: every refused request names its problem by path, no process crashes,
// and nothing of a refused request is left behind (no run, no dataset).

type Json = Record<string, unknown>;

/** A copy of `base` with the value at a dotted path replaced (undefined deletes it). */
function patch(base: Json, changes: Record<string, unknown>): Json {
  const out = structuredClone(base);
  for (const [path, value] of Object.entries(changes)) {
    const keys = path.split('.');
    let node = out as Record<string, unknown>;
    for (const k of keys.slice(0, -1)) node = node[k] as Record<string, unknown>;
    const last = keys[keys.length - 1];
    if (value === undefined) delete node[last];
    else node[last] = value;
  }
  return out;
}

interface HttpCase {
  name: string;
  method?: 'GET' | 'POST';
  /** Default POST /runs; a function is called when the case runs (ids known by then). */
  path?: string | (() => string);
  /** Sent as JSON, or as-is when a string with `raw`. */
  body?: unknown;
  raw?: boolean;
  contentType?: string;
  status: number;
  /** Must match one of the response's problems (or its message). */
  message: RegExp;
}

interface JobCase {
  name: string;
  data: unknown;
  failedReason: RegExp;
}

describe('bad input is refused with a precise message and breaks nothing', () => {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('badinput');
  const keys = new KeySchema(prefix);
  const dataDir = mkdtempSync(join(tmpdir(), 'nnq-badinput-'));
  const files = join(dataDir, 'files');
  const env = { REDIS_URL: redisUrl, NNQ_PREFIX: prefix, NNQ_DATA_DIR: dataDir, NNQ_HEARTBEAT_TTL_MS: '2000' };
  const xor = patch(exampleConfig('xor.json'), { steps: 20 });
  const forgedRun = `forged-${prefix.slice(-8)}`;
  let coordinator: AppProcess;
  let worker: AppProcess;
  let base = '';
  let workerBase = '';
  let redis: Redis;
  let queue: Queue;
  let trainedRun = '';
  let datasetsBefore: string[] = [];
  const file = (name: string) => join(files, name);

  beforeAll(async () => {
    mkdirSync(files);
    writeFileSync(file('ragged.csv'), 'x1,x2,y\n0,0,0\n1,1\n');
    writeFileSync(file('nonnum.csv'), 'x1,x2,y\n0,0,0\n1,abc,1\n');
    writeFileSync(file('good.csv'), 'x1,x2,y\n0,0,0\n1,1,1\n');
    writeFileSync(file('empty.csv'), '');
    writeFileSync(file('ragged.json'), '[{"x1": 0, "x2": 0, "y": 0},\n {"x1": 1, "y": 1}]\n');
    // IDX: magic 00 00 08 02 (uint8, 2 dims), dims [4, 2], 8 bytes; the bad one starts 08 08
    const imageBytes = Buffer.from([0, 0, 8, 2, 0, 0, 0, 4, 0, 0, 0, 2, 0, 1, 1, 0, 0, 1, 1, 1]);
    const labelBytes = Buffer.from([0, 0, 8, 1, 0, 0, 0, 4, 0, 1, 1, 0]);
    writeFileSync(file('images.idx'), imageBytes);
    writeFileSync(file('labels.idx'), labelBytes);
    writeFileSync(file('badmagic.idx'), Buffer.concat([Buffer.from([8, 8]), imageBytes.subarray(2)]));
    const gz = gzipSync(labelBytes);
    writeFileSync(file('truncated.idx.gz'), gz.subarray(0, gz.length - 12));

    redis = new Redis(redisUrl);
    queue = new Queue(SHARD_QUEUE, {
      connection: new Redis(redisUrl, { maxRetriesPerRequest: null }),
      prefix: keys.bullPrefix(),
    });
    coordinator = startApp('coordinator', { ...env, NNQ_PORT: '0' });
    worker = startApp('worker', env);
    const [, port] = await coordinator.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
    const [, workerPort] = await worker.waitFor(/serving \/health and \/metrics on http:\/\/127\.0\.0\.1:(\d+)/);
    base = `http://127.0.0.1:${port}`;
    workerBase = `http://127.0.0.1:${workerPort}`;
    // a trained model for the predict cases
    const run = await submitRun(base, xor);
    expect((await waitForRun(base, run.id, 30_000)).state).toBe('completed');
    trainedRun = run.id;
    datasetsBefore = (await redis.smembers(`${prefix}:ds:ids`)).sort();

    // a run known to the queue's Redis but not to the coordinator: forged jobs against it reach
    // the worker's range checks (its manifest and splits are what the coordinator would publish)
    const config = parseRunConfig(xor);
    const setup = setupRun(config, loadDataset(config.dataset.source!));
    const manifest: RunManifest = {
      runId: forgedRun,
      spec: config.model,
      datasetId: datasetsBefore[0],
      preprocessing: setup.preprocessing,
      seed: config.seed,
      batchSize: config.batchSize,
      shards: config.shards,
      paramCount: setup.paramCount,
      splitRows: {
        train: setup.splits.train.length,
        validation: setup.splits.validation.length,
        test: setup.splits.test.length,
      },
    };
    const blob = (a: Uint32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    await redis
      .multi()
      .set(keys.runManifest(forgedRun), JSON.stringify(manifest))
      .set(keys.runSplit(forgedRun, 'train'), blob(setup.splits.train))
      .set(keys.runSplit(forgedRun, 'validation'), blob(setup.splits.validation))
      .set(keys.runSplit(forgedRun, 'test'), blob(setup.splits.test))
      .exec();
  });

  afterAll(async () => {
    await Promise.all([worker, coordinator].filter(Boolean).map((p) => stopApp(p)));
    await queue?.close();
    if (redis) {
      const left = await redis.keys(`${prefix}:*`);
      if (left.length) await redis.del(...left);
      await redis.quit();
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  const model = xor.model as Json;
  const layer0 = { units: 8, activation: 'tanh' };
  const out1 = { units: 1, activation: 'identity' };
  const xorSource = (changes: Json) => ({ type: 'synthetic', name: 'xor', seed: 1, task: 'regression', ...changes });
  const classify = (source: Json) => ({
    'dataset.source': source,
    model: { ...model, layers: [layer0, { units: 2, activation: 'softmax' }], loss: 'softmax_cross_entropy' },
    batchSize: 1,
    shards: 1,
  });
  const csv = (path: string, changes: Json = {}) =>
    classify({ type: 'csv', path, labelColumns: ['y'], task: 'classification', ...changes });
  const idx = (images: string, labels: string) => classify({ type: 'idx', images: file(images), labels: file(labels) });

  const cases: HttpCase[] = [
    // --- HTTP bodies
    {
      name: 'malformed JSON',
      body: '{"name": "x",',
      raw: true,
      status: 400,
      message: /^Expected double-quoted property name in JSON at position 13/,
    },
    {
      name: 'a JSON array as body',
      body: [],
      status: 400,
      message: /^\(root\): Invalid input: expected object, received array$/,
    },
    {
      name: 'a JSON string as body',
      body: 'xor',
      status: 400,
      message: /^\(root\): Invalid input: expected object, received string$/,
    },
    {
      name: 'a JSON number as body',
      body: 42,
      status: 400,
      message: /^\(root\): Invalid input: expected object, received number$/,
    },
    {
      name: 'JSON null as body',
      body: null,
      status: 400,
      message: /^\(root\): Invalid input: expected object, received null$/,
    },
    {
      name: 'a text/plain body',
      body: 'name=xor',
      raw: true,
      contentType: 'text/plain',
      status: 415,
      message: /^the request body must be JSON \(content-type: application\/json\), got text\/plain$/,
    },
    {
      name: 'no body at all',
      status: 415,
      message: /^the request body must be JSON \(content-type: application\/json\), got no content-type$/,
    },
    {
      name: 'predict: a text/plain body',
      path: () => `/runs/${trainedRun}/predict`,
      body: '0,1',
      raw: true,
      contentType: 'text/plain',
      status: 415,
      message: /^the request body must be JSON .*got text\/plain$/,
    },
    {
      name: 'an empty object',
      body: {},
      status: 400,
      message: /^model: Invalid input: expected object, received undefined$/,
    },
    // --- run configs
    {
      name: 'missing name',
      body: patch(xor, { name: undefined }),
      status: 400,
      message: /^name: Invalid input: expected string, received undefined$/,
    },
    {
      name: 'name of the wrong type',
      body: patch(xor, { name: 7 }),
      status: 400,
      message: /^name: Invalid input: expected string, received number$/,
    },
    {
      name: 'name with control characters',
      body: patch(xor, { name: 'x\u0007\ny' }),
      status: 400,
      message: /^name: must not contain control characters or < >$/,
    },
    {
      name: 'name of 101 characters',
      body: patch(xor, { name: 'n'.repeat(101) }),
      status: 400,
      message: /^name: must be at most 100 characters$/,
    },
    {
      name: 'negative rate (lr -1)',
      body: patch(xor, { 'optimizer.lr': -1 }),
      status: 400,
      message: /^optimizer\.lr: must be greater than 0/,
    },
    {
      name: 'zero rate',
      body: patch(xor, { 'optimizer.lr': 0 }),
      status: 400,
      message: /^optimizer\.lr: must be greater than 0/,
    },
    {
      name: 'rate as a string (lr "0.1")',
      body: patch(xor, { 'optimizer.lr': '0.1' }),
      status: 400,
      message: /^optimizer\.lr: Invalid input: expected number, received string$/,
    },
    {
      name: 'NaN rate (serialised as null)',
      body: patch(xor, { 'optimizer.lr': NaN }),
      status: 400,
      message: /^optimizer\.lr: Invalid input: expected number, received null$/,
    },
    {
      name: 'unknown optimizer',
      body: patch(xor, { 'optimizer.type': 'adamax' }),
      status: 400,
      message: /^optimizer\.type: Invalid discriminator value\. Expected 'sgd' \| .*'adam'/,
    },
    {
      name: 'unknown schedule',
      body: patch(xor, { schedule: { type: 'cyclic' } }),
      status: 400,
      message: /^schedule\.type: /,
    },
    {
      name: 'unknown onNonFinite',
      body: patch(xor, { onNonFinite: 'ignore' }),
      status: 400,
      message: /^onNonFinite: Invalid option: expected one of "fail"\|"skip"$/,
    },
    {
      name: 'unknown top-level key',
      body: patch(xor, { learningRate: 0.1 }),
      status: 400,
      message: /^\(root\): Unrecognized key: "learningRate"$/,
    },
    { name: 'negative seed', body: patch(xor, { seed: -1 }), status: 400, message: /^seed: must be at least 0$/ },
    {
      name: 'fractional batchSize',
      body: patch(xor, { batchSize: 2.5 }),
      status: 400,
      message: /^batchSize: must be an integer$/,
    },
    {
      name: 'huge batchSize (10^9)',
      body: patch(xor, { batchSize: 1e9 }),
      status: 400,
      message: /^batchSize: must be at most 1048576$/,
    },
    {
      name: 'shards > batchSize',
      body: patch(xor, { shards: 32 }),
      status: 400,
      message: /^shards: must not exceed batchSize \(16\)$/,
    },
    {
      name: 'epochs and steps both',
      body: patch(xor, { epochs: 2 }),
      status: 400,
      message: /^epochs: give exactly one of epochs and steps$/,
    },
    {
      name: 'neither epochs nor steps',
      body: patch(xor, { steps: undefined }),
      status: 400,
      message: /^epochs: give exactly one of epochs and steps$/,
    },
    {
      name: 'validation fraction 1',
      body: patch(xor, { 'dataset.validation': 1 }),
      status: 400,
      message: /^dataset\.validation: must be below 1$/,
    },
    {
      name: 'batchSize > train rows',
      body: patch(xor, { 'dataset.source': xorSource({ n: 40 }), batchSize: 64 }),
      status: 400,
      message: /^batchSize: batchSize 64 exceeds the 40 rows of the train split$/,
    },
    // --- model specs
    {
      name: 'model missing',
      body: patch(xor, { model: undefined }),
      status: 400,
      message: /^model: Invalid input: expected object, received undefined$/,
    },
    {
      name: 'unknown activation',
      body: patch(xor, { 'model.layers': [{ units: 8, activation: 'swish' }, out1] }),
      status: 400,
      message: /^model\.layers\[0\]\.activation: Invalid option: expected one of "identity"\|/,
    },
    {
      name: 'unknown loss',
      body: patch(xor, { 'model.loss': 'l1' }),
      status: 400,
      message: /^model\.loss: Invalid option: expected one of "sum_of_squares"\|/,
    },
    {
      name: 'zero units',
      body: patch(xor, { 'model.layers': [{ ...layer0, units: 0 }, out1] }),
      status: 400,
      message: /^model\.layers\[0\]\.units: must be at least 1$/,
    },
    {
      name: 'units 10^7',
      body: patch(xor, { 'model.layers': [{ ...layer0, units: 1e7 }, out1] }),
      status: 400,
      message: /^model\.layers\[0\]\.units: must be at most 1048576$/,
    },
    {
      name: '65 layers',
      body: patch(xor, { 'model.layers': [...Array.from({ length: 64 }, () => layer0), out1] }),
      status: 400,
      message: /^model\.layers: must hold at most 64 layers$/,
    },
    {
      name: 'huge parameter count (two layers of 2^20 units)',
      body: patch(xor, { 'model.layers': [{ ...layer0, units: 1 << 20 }, { ...layer0, units: 1 << 20 }, out1] }),
      status: 400,
      message: /^model\.layers: the network has 1099516870657 parameters, at most 67108864 are allowed$/,
    },
    {
      name: 'mask of the wrong shape',
      body: patch(xor, { 'model.layers': [{ ...layer0, mask: [[1, 1]] }, out1] }),
      status: 400,
      message: /^model\.layers\[0\]\.mask: mask must have shape \[2\]\[8\] \(fanIn x units\)$/,
    },
    {
      name: 'mask entry 2',
      body: patch(xor, { 'model.layers': [{ ...layer0, units: 1, mask: [[1], [2]] }, out1] }),
      status: 400,
      message: /^model\.layers\[0\]\.mask\[1\]\[0\]: must be 0 or 1$/,
    },
    {
      name: 'skip to a missing layer',
      body: patch(xor, { 'model.skips': [{ from: 2, to: 4, mode: 'concat' }] }),
      status: 400,
      message: /^model\.skips\[0\]\.to: skip to missing layer 4 \(the network has layers 1\.\.2\)$/,
    },
    {
      name: 'softmax on a hidden layer',
      body: patch(xor, { 'model.layers': [{ units: 8, activation: 'softmax' }, out1] }),
      status: 400,
      message: /^model\.layers\[0\]\.activation: softmax is allowed on the output layer only$/,
    },
    {
      name: 'cross-entropy without softmax output',
      body: patch(xor, { 'model.loss': 'softmax_cross_entropy' }),
      status: 400,
      message: /^model\.layers\[1\]\.activation: softmax_cross_entropy needs a softmax output layer \(got identity\)$/,
    },
    {
      name: 'inputSize not matching the dataset',
      body: patch(xor, { 'dataset.source': xorSource({ n: 60 }), 'model.inputSize': 3 }),
      status: 400,
      message: /^model\.inputSize: is 3, the dataset has 2 features per row$/,
    },
    {
      name: 'output units not matching the classes',
      body: patch(xor, {
        'dataset.source': { type: 'synthetic', name: 'spirals', n: 50, seed: 3 },
        model: { ...model, layers: [layer0, { units: 3, activation: 'softmax' }], loss: 'softmax_cross_entropy' },
      }),
      status: 400,
      message:
        /^model\.layers\[1\]\.units: the output layer has 3 units, the dataset's targets are 2 wide \(2 classes\)$/,
    },
    {
      name: 'classification loss on a regression dataset',
      body: patch(xor, {
        'dataset.source': xorSource({ n: 44 }),
        'model.layers': [layer0, { units: 1, activation: 'sigmoid' }],
        'model.loss': 'sigmoid_binary_cross_entropy',
      }),
      status: 400,
      message: /^model\.loss: sigmoid_binary_cross_entropy needs a classification dataset, this one is regression$/,
    },
    // --- datasets
    {
      name: 'unknown source type',
      body: patch(xor, { 'dataset.source': { type: 'parquet', path: '/x' } }),
      status: 400,
      message: /^dataset\.source\.type: Invalid discriminator value\. Expected 'synthetic' \| 'csv'/,
    },
    {
      name: 'unknown synthetic set',
      body: patch(xor, { 'dataset.source': xorSource({ name: 'moons' }) }),
      status: 400,
      message: /^dataset\.source\.name: Invalid discriminator value/,
    },
    {
      name: 'negative row count',
      body: patch(xor, { 'dataset.source': xorSource({ n: -5 }) }),
      status: 400,
      message: /^dataset\.source\.n: must be at least 1$/,
    },
    {
      name: 'huge synthetic set (10^7 rows x 1024 features)',
      body: patch(xor, { 'dataset.source': { type: 'synthetic', name: 'blobs', n: 1e7, features: 1024 } }),
      status: 400,
      message: /^dataset\.source\.n: 10000000 rows x 1024 features are more than 67108864 values$/,
    },
    {
      name: 'both source and id',
      body: patch(xor, { 'dataset.id': 'a'.repeat(64) }),
      status: 400,
      message: /^dataset\.source: give exactly one of source and id$/,
    },
    {
      name: 'neither source nor id',
      body: patch(xor, { 'dataset.source': undefined }),
      status: 400,
      message: /^dataset\.source: give exactly one of source and id$/,
    },
    {
      name: 'malformed dataset id',
      body: patch(xor, { dataset: { id: 'abc' } }),
      status: 400,
      message: /^dataset\.id: must be a sha256 hex id$/,
    },
    {
      name: 'unregistered dataset id',
      body: patch(xor, { dataset: { id: 'b'.repeat(64) } }),
      status: 400,
      message: new RegExp(`^dataset\\.id: .*${'b'.repeat(64)}.* is not registered`),
    },
    {
      name: 'CSV file that does not exist',
      body: patch(xor, csv(file('missing.csv'))),
      status: 400,
      message: /^dataset: \/.*\/missing\.csv: cannot read: no such file$/,
    },
    {
      name: 'CSV path that is a directory',
      body: patch(xor, csv(files)),
      status: 400,
      message: /^dataset: \/.*\/files: cannot read: is a directory$/,
    },
    {
      name: 'CSV with a ragged row',
      body: patch(xor, csv(file('ragged.csv'))),
      status: 400,
      message: /^dataset: \/.*\/ragged\.csv:3(:\d+)?: ragged row: 2 fields, the header has 3$/,
    },
    {
      name: 'CSV with a non-numeric cell',
      body: patch(xor, csv(file('nonnum.csv'))),
      status: 400,
      message: /^dataset: \/.*\/nonnum\.csv:3:3: non-numeric cell "abc" in column "x2"$/,
    },
    {
      name: 'CSV with an unknown label column',
      body: patch(xor, csv(file('good.csv'), { labelColumns: ['target'] })),
      status: 400,
      message: /^dataset: \/.*\/good\.csv:1(:\d+)?: unknown label column "target" \(the header has: x1, x2, y\)$/,
    },
    {
      name: 'empty CSV',
      body: patch(xor, csv(file('empty.csv'))),
      status: 400,
      message: /^dataset: \/.*\/empty\.csv at byte 0: empty file$/,
    },
    {
      name: 'JSON records with a missing field',
      body: patch(xor, csv(file('ragged.json'), { type: 'json' })),
      status: 400,
      message: /^dataset: \/.*\/ragged\.json:2:\d+: ragged record 1: missing field "x2"$/,
    },
    {
      name: 'IDX with a wrong magic',
      body: patch(xor, idx('badmagic.idx', 'labels.idx')),
      status: 400,
      message:
        /^dataset: \/.*\/badmagic\.idx at byte 0: wrong IDX magic number 0x08080802: the first two bytes must be zero$/,
    },
    {
      name: 'truncated gzip',
      body: patch(xor, idx('images.idx', 'truncated.idx.gz')),
      status: 400,
      message: /^dataset: \/.*\/truncated\.idx\.gz at byte \d+: truncated gzip stream/,
    },
    // --- predict
    {
      name: 'predict: wrong row width',
      path: () => `/runs/${trainedRun}/predict`,
      body: { inputs: [[0, 1, 2]] },
      status: 400,
      message: /^inputs\[0\]: has 3 values, the model takes 2$/,
    },
    {
      name: 'predict: non-numbers',
      path: () => `/runs/${trainedRun}/predict`,
      body: { inputs: [[0, 'one']] },
      status: 400,
      message: /^inputs\.0\.1: Invalid input: expected number, received string$/,
    },
    {
      name: 'predict: too many rows',
      path: () => `/runs/${trainedRun}/predict`,
      body: { inputs: Array.from({ length: 10_001 }, () => [0, 1]) },
      status: 400,
      message: /^inputs: must hold at most 10000 rows$/,
    },
    {
      name: 'predict: no rows',
      path: () => `/runs/${trainedRun}/predict`,
      body: { inputs: [] },
      status: 400,
      message: /^inputs: must hold at least one row$/,
    },
    {
      name: 'predict: unknown run',
      path: '/runs/0123456789ab/predict',
      body: { inputs: [[0, 1]] },
      status: 404,
      message: /^no run with id "0123456789ab"$/,
    },
    // --- run ids
    {
      name: 'GET an unknown run id',
      method: 'GET',
      path: '/runs/0123456789ab',
      status: 404,
      message: /^no run with id "0123456789ab"$/,
    },
    {
      name: 'GET history of an unknown run',
      method: 'GET',
      path: '/runs/0123456789ab/history',
      status: 404,
      message: /^no run with id "0123456789ab"$/,
    },
    {
      name: 'GET a run id with a path traversal',
      method: 'GET',
      path: '/runs/..%2F..%2Fetc%2Fpasswd/model',
      status: 404,
      message: /^no run with id "\.\.\/\.\.\/etc\/passwd"$/,
    },
    {
      name: 'GET a run id of 65 characters',
      method: 'GET',
      path: `/runs/${'a'.repeat(65)}`,
      status: 404,
      message: /^no run with id "a{65}"$/,
    },
    {
      name: 'POST cancel to an id with colons',
      method: 'POST',
      path: '/runs/not:an:id/cancel',
      status: 404,
      message: /^no run with id "not:an:id"$/,
    },
    {
      name: 'GET a run id with control characters',
      method: 'GET',
      path: '/runs/%00%1B%5B2J',
      status: 404,
      message: /^no run with id "\\u0000\\u001b\[2J"$/,
    },
  ];

  const send = async (c: HttpCase): Promise<Response> => {
    const path = typeof c.path === 'function' ? c.path() : (c.path ?? '/runs');
    const method = c.method ?? 'POST';
    const body = c.body === undefined ? undefined : c.raw ? (c.body as string) : JSON.stringify(c.body);
    return fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': c.contentType ?? 'application/json' },
      body,
    });
  };

  it.each(cases)('refuses $name', async (c) => {
    const res = await send(c);
    const text = await res.text();
    expect(res.status, text).toBe(c.status);
    const body = JSON.parse(text) as { message?: string | string[]; problems?: string[] };
    const lines = body.problems ?? [body.message].flat();
    expect(lines, text).toContainEqual(expect.stringMatching(c.message));
  });

  it('refuses an oversized body (> 16 MB) with 413', async () => {
    const res = await send({
      name: 'oversized',
      body: patch(xor, { pad: 'x'.repeat(17 << 20) }),
      status: 413,
      message: /./,
    });
    expect(res.status).toBe(413);
    expect(await res.text()).toMatch(/request entity too large/i);
  });

  const gradient = {
    kind: 'gradient',
    runId: forgedRun,
    step: 0,
    shard: 0,
    shards: 2,
    version: 0,
    epoch: 0,
    start: 0,
    end: 8,
  };
  const evaluate = {
    kind: 'evaluate',
    runId: forgedRun,
    evalId: 'validation-0',
    split: 'validation',
    shard: 0,
    version: 0,
    start: 0,
    end: 4,
  };
  const jobCases: JobCase[] = [
    {
      name: 'wrong kind',
      data: { ...gradient, kind: 'backward' },
      failedReason:
        /: invalid payload: kind: Invalid discriminator value\. Expected 'gradient' \| 'evaluate' \| 'reduce'$/,
    },
    {
      name: 'no kind',
      data: { ...gradient, kind: undefined },
      failedReason: /: invalid payload: kind: Invalid discriminator value/,
    },
    {
      name: 'missing field',
      data: { ...gradient, start: undefined },
      failedReason: /: invalid payload: start: Invalid input: expected number, received undefined$/,
    },
    {
      name: 'not an object',
      data: 'gradient',
      failedReason: /: invalid payload: \(root\): Invalid input: expected object, received string$/,
    },
    {
      name: 'wrong type',
      data: { ...gradient, step: '0' },
      failedReason: /: invalid payload: step: Invalid input: expected number, received string$/,
    },
    {
      name: 'negative range',
      data: { ...gradient, start: -8, end: -1 },
      failedReason: /: invalid payload: start: must be at least 0; end: must be at least 0$/,
    },
    {
      name: 'empty range',
      data: { ...gradient, start: 8, end: 8 },
      failedReason: /: invalid payload: end: end must be greater than start$/,
    },
    {
      name: 'run id with a colon',
      data: { ...gradient, runId: 'a:b' },
      failedReason: /: invalid payload: runId: must be 1-64 characters of \[A-Za-z0-9_-\]$/,
    },
    {
      name: 'unknown key',
      data: { ...gradient, tensor: [1, 2, 3] },
      failedReason: /: invalid payload: \(root\): Unrecognized key: "tensor"$/,
    },
    {
      name: 'shard index not below shards',
      data: { ...gradient, shard: 1e12 },
      failedReason: /: invalid payload: shard: shard must be below shards$/,
    },
    {
      name: 'run id that does not exist',
      data: { ...gradient, runId: 'nosuchrun' },
      failedReason: /^run nosuchrun has no manifest in Redis \(finished, cancelled or unknown\)$/,
    },
    {
      name: 'end beyond the split',
      data: { ...gradient, start: 0, end: 1e6 },
      failedReason: new RegExp(`^job ${forgedRun}-0-0: range or shard count does not fit run ${forgedRun}$`),
    },
    {
      name: 'huge shard index',
      data: { ...gradient, shard: 1e9, shards: 1e9 + 1 },
      failedReason: new RegExp(`^job ${forgedRun}-0-1000000000: range or shard count does not fit run ${forgedRun}$`),
    },
    {
      name: 'parameter version that does not exist',
      data: { ...gradient, version: 99 },
      failedReason: new RegExp(`^run ${forgedRun} has no parameters of version 99$`),
    },
    {
      name: 'evaluation range beyond its split',
      data: { ...evaluate, end: 999 },
      failedReason: /^evaluation range \[0, 999\) exceeds the validation split$/,
    },
    {
      name: 'malformed evaluation id',
      data: { ...evaluate, evalId: 'x-1' },
      failedReason: /: invalid payload: evalId: must be <split>-<version>$/,
    },
  ];

  it(`fails ${jobCases.length} forged job payloads for good, naming the problem, and the worker stays up`, async () => {
    const added = await Promise.all(
      jobCases.map((c, i) =>
        queue.add('gradient', c.data, {
          jobId: `${prefix}-forged-${i}`,
          attempts: 3,
          backoff: { type: 'fixed', delay: 0 },
        }),
      ),
    );
    for (const [i, c] of jobCases.entries()) {
      const job = await until(
        async () => {
          const j = await queue.getJob(added[i].id!);
          return j?.finishedOn ? j : undefined;
        },
        20_000,
        `forged job "${c.name}" to end`,
      );
      expect(await job.getState(), c.name).toBe('failed');
      expect(job.failedReason, c.name).toMatch(c.failedReason);
      expect(job.attemptsMade, `${c.name}: not retried`).toBe(1);
    }
    expect(worker.child.exitCode).toBeNull();
    expect((await getJson<{ status: string }>(`${workerBase}/health`)).status).toBe('ok');
  });

  it('leaves both processes alive, no run or dataset of a refused request, and still trains', async () => {
    expect(coordinator.child.exitCode).toBeNull();
    expect(worker.child.exitCode).toBeNull();
    expect((await getJson<{ status: string }>(`${base}/health`)).status).toBe('ok');
    expect((await getJson<{ status: string }>(`${workerBase}/health`)).status).toBe('ok');
    const runs = await getJson<{ id: string }[]>(`${base}/runs`);
    expect(runs.map((r) => r.id)).toEqual([trainedRun]);
    expect((await redis.smembers(`${prefix}:ds:ids`)).sort()).toEqual(datasetsBefore);
    const run = await submitRun(base, xor);
    const done = await waitForRun(base, run.id, 30_000);
    expect(done.state).toBe('completed');
    expect(done.step).toBe(20);
    expect(coordinator.output()).not.toMatch(/driver crashed|Unhandled|ERROR \[ExceptionsHandler\]/);
  });
});

import {
  answerJsonSchema,
  DatasetListSchema,
  DatasetSummarySchema,
  ErrorBodySchema,
  HistorySchema,
  parseAnswer,
  PredictionSchema,
  RunListSchema,
  RunRecordSchema,
  SweepListSchema,
  SweepResultsSchema,
  SweepViewSchema,
  WorkerListSchema,
} from '@nnq/protocol';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { z } from 'zod';
import { TestCluster } from './support/cluster';
import { getJson, until } from './support/processes';
import { exampleConfig, submitRun, waitForRun } from './support/runs';

// Issue #22, "the HTTP contract has no home": every JSON answer of a live coordinator fits its
// schema in @nnq/protocol, and /docs describes each one with that same schema.
describe('the HTTP contract (@nnq/protocol api) against a live coordinator', () => {
  const cluster = new TestCluster(inject('redisUrl'), 'contract');
  /** xor with a held-out quarter, so its history holds evaluations too. */
  const xor: Record<string, unknown> = { ...exampleConfig('xor.json'), steps: 40 };
  (xor.dataset as Record<string, unknown>).validation = 0.25;

  const get = async <S extends z.ZodType>(path: string, schema: S) =>
    parseAnswer(schema, await getJson(`${cluster.base}${path}`), `GET ${path}`);
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${cluster.base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as unknown };
  };

  beforeAll(async () => {
    await cluster.startCoordinator();
    await cluster.addWorker();
    await cluster.waitForWorkers(1);
  });
  afterAll(() => cluster.stop());

  it('answers runs, their history and the workers as the contract says', async () => {
    const run = await submitRun(cluster.base, xor);
    expect((await waitForRun(cluster.base, run.id)).state).toBe('completed');
    const history = await get(`/runs/${run.id}/history`, HistorySchema);
    expect(history.filter((e) => e.type === 'step')).toHaveLength(40);
    expect(history.some((e) => e.type === 'evaluation' && e.split === 'validation')).toBe(true);
    expect((await get('/runs', RunListSchema)).map((r) => r.id)).toContain(run.id);
    expect(await get('/workers', WorkerListSchema)).toHaveLength(1);
    const predicted = await post(`/runs/${run.id}/predict`, { inputs: [[0, 1]] });
    expect(predicted.status).toBe(200);
    expect(parseAnswer(PredictionSchema, predicted.body, 'POST /runs/:id/predict').outputs).toHaveLength(1);
  });

  it('answers datasets and sweeps as the contract says', async () => {
    const upload = await post('/datasets', {
      format: 'csv',
      content: 'x1,x2,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n',
      labelColumns: ['y'],
      task: 'regression',
    });
    expect(upload.status).toBe(201);
    const dataset = parseAnswer(DatasetSummarySchema, upload.body, 'POST /datasets');
    expect(await get(`/datasets/${dataset.id}`, DatasetSummarySchema)).toMatchObject({ id: dataset.id, rows: 4 });
    expect((await get('/datasets', DatasetListSchema)).map((d) => d.id)).toContain(dataset.id);

    const submitted = await post('/sweeps', {
      name: 'xor-sweep',
      seed: 1,
      base: { ...xor, steps: 10 },
      space: { 'optimizer.lr': { type: 'grid', values: [0.05, 0.01] } },
      method: { type: 'grid' },
      objective: { metric: 'loss', split: 'validation', mode: 'min' },
      budget: { maxTrials: 2, maxConcurrent: 2 },
    });
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(201);
    const { id } = parseAnswer(SweepViewSchema, submitted.body, 'POST /sweeps');
    const sweep = await until(
      async () => {
        const s = await get(`/sweeps/${id}`, SweepViewSchema);
        return s.state !== 'running' && s;
      },
      60_000,
      'the sweep to end',
    );
    expect(sweep).toMatchObject({ state: 'completed', planned: 2 });
    expect(sweep.leaderboard).toHaveLength(2);
    expect((await get('/sweeps', SweepListSchema)).map((s) => s.id)).toContain(id);
    expect((await get(`/sweeps/${id}/results.json`, SweepResultsSchema)).trials.map((t) => t.rank)).toEqual([1, 2]);
  });

  it('answers a refused request with the error body, problems by path', async () => {
    const refused = await post('/runs', { ...xor, batchSize: 0 });
    expect(refused.status).toBe(400);
    expect(parseAnswer(ErrorBodySchema, refused.body, 'POST /runs')).toMatchObject({
      message: 'invalid run config',
      problems: expect.arrayContaining([expect.stringMatching(/^batchSize: /)]),
    });
    const missing = await fetch(`${cluster.base}/runs/nope`);
    expect(missing.status).toBe(404);
    expect(parseAnswer(ErrorBodySchema, await missing.json(), 'GET /runs/nope')).toMatchObject({ statusCode: 404 });
  });

  it('documents every JSON answer on /docs with the schema the CLI parses it with', async () => {
    type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content?: unknown }> }>> };
    const doc = await getJson<Doc>(`${cluster.base}/docs-json`);
    const schemaOf = (path: string, method: string, status: string) =>
      (doc.paths[path]?.[method]?.responses[status]?.content as Record<string, { schema: unknown }> | undefined)?.[
        'application/json'
      ]?.schema;
    const answers: Array<[string, string, string, z.ZodType]> = [
      ['/runs', 'post', '201', RunRecordSchema],
      ['/runs', 'post', '400', ErrorBodySchema],
      ['/runs', 'get', '200', RunListSchema],
      ['/runs/{id}', 'get', '200', RunRecordSchema],
      ['/runs/{id}', 'get', '404', ErrorBodySchema],
      ['/runs/{id}/history', 'get', '200', HistorySchema],
      ['/runs/{id}/cancel', 'post', '200', RunRecordSchema],
      ['/runs/{id}/predict', 'post', '200', PredictionSchema],
      ['/runs/{id}/predict', 'post', '400', ErrorBodySchema],
      ['/workers', 'get', '200', WorkerListSchema],
      ['/sweeps', 'post', '201', SweepViewSchema],
      ['/sweeps', 'get', '200', SweepListSchema],
      ['/sweeps/{id}', 'get', '200', SweepViewSchema],
      ['/sweeps/{id}/results.json', 'get', '200', SweepResultsSchema],
      ['/datasets', 'post', '201', DatasetSummarySchema],
      ['/datasets', 'get', '200', DatasetListSchema],
      ['/datasets/{id}', 'get', '200', DatasetSummarySchema],
    ];
    for (const [path, method, status, schema] of answers) {
      expect(schemaOf(path, method, status), `${method.toUpperCase()} ${path} ${status}`).toEqual(
        answerJsonSchema(schema),
      );
    }
  });
});

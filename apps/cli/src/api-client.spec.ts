import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, ApiError, coordinatorUrl, UnexpectedAnswerError, UnreachableError } from './api-client';
import { SweepViewSchema } from './commands/sweep.command';
import { RunViewListSchema, RunViewSchema, WorkerViewListSchema } from './run-view';

describe('coordinatorUrl', () => {
  it('takes NNQ_URL, else NNQ_PORT on loopback, else port 3000', () => {
    expect(coordinatorUrl({ NNQ_URL: 'http://c:8080/' })).toBe('http://c:8080');
    expect(coordinatorUrl({ NNQ_PORT: '4000' })).toBe('http://127.0.0.1:4000');
    expect(coordinatorUrl({})).toBe('http://127.0.0.1:3000');
  });
  it('refuses what is not an http URL, naming NNQ_URL', () => {
    expect(() => coordinatorUrl({ NNQ_URL: 'localhost:3000' })).toThrow(
      /^NNQ_URL must be an http:\/\/ or https:\/\/ URL \(got "localhost:3000"\)$/,
    );
  });
});

const EVAL = { split: 'validation', step: 4, loss: 0.5, accuracy: 0.75, rows: 20 };
const RUN = { id: 'abc', name: 'xor', state: 'running', step: 4, totalSteps: 8, epoch: 0, epochs: 1, validation: EVAL };

describe('ApiClient', () => {
  let server: Server;
  let base = '';
  const seen: IncomingMessage[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req);
      if (req.url === '/health') return void res.end('{"status":"ok"}');
      if (req.url === '/runs' && req.method === 'POST') {
        res.statusCode = 400;
        return void res.end(
          JSON.stringify({ message: 'invalid run config', problems: ['batchSize: must be at least 1'] }),
        );
      }
      if (req.url === '/runs/abc') return void res.end(JSON.stringify({ ...RUN, state: 'lost' }));
      if (req.url === '/runs/def') return void res.end(JSON.stringify({ ...RUN, validation: { ...EVAL, rows: '9' } }));
      if (req.url === '/runs/ok') return void res.end(JSON.stringify({ ...RUN, addedLater: true }));
      if (req.url === '/runs/html') return void res.end('<html>proxy error</html>');
      if (req.url === '/sweeps/s') return void res.end(JSON.stringify({ id: 's', leaderboard: [{ index: 0 }] }));
      if (req.url === '/secret') {
        res.statusCode = 401;
        return void res.end('{"message":"Unauthorized"}');
      }
      res.setHeader('content-type', 'application/json');
      res.end('[]');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('sends the bearer token when one is set, and none otherwise', async () => {
    await new ApiClient(base, 'x'.repeat(16)).get('/runs', RunViewListSchema);
    expect(seen.at(-1)?.headers.authorization).toBe(`Bearer ${'x'.repeat(16)}`);
    await new ApiClient(base, undefined).get('/runs', RunViewListSchema);
    expect(seen.at(-1)?.headers.authorization).toBeUndefined();
  });

  it('turns a 400 into an ApiError with the problems', async () => {
    const err = await new ApiClient(base, undefined).post('/runs', {}, RunViewSchema).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 400, code: 1, problems: ['batchSize: must be at least 1'] });
    expect((err as Error).message).toBe('invalid run config:\n  batchSize: must be at least 1');
  });

  it('refuses an answer its contract does not allow, naming the request and the field', async () => {
    const client = new ApiClient(base, undefined);
    const state = await client.get('/runs/abc', RunViewSchema).catch((e: unknown) => e);
    expect(state).toBeInstanceOf(UnexpectedAnswerError);
    expect(state).toMatchObject({ code: 1, request: 'GET /runs/abc' });
    expect((state as Error).message).toMatch(
      new RegExp(
        String.raw`^coordinator answered GET /runs/abc with an unexpected body: ` +
          String.raw`state: .*expected one of "queued"\|"running".*same nnq version`,
      ),
    );
    await expect(client.get('/runs/def', RunViewSchema)).rejects.toThrow(
      /GET \/runs\/def with an unexpected body: validation\.rows: .*expected number, received string/,
    );
    await expect(client.get('/workers', WorkerViewListSchema)).resolves.toEqual([]);
    await expect(client.get('/runs', RunViewSchema)).rejects.toThrow(
      /GET \/runs with an unexpected body: \(root\): .*expected object, received array/,
    );
    await expect(client.get('/sweeps/s', SweepViewSchema)).rejects.toThrow(
      /GET \/sweeps\/s with an unexpected body: name: .*; leaderboard\.0\.state: /,
    );
    await expect(client.get('/runs/html', RunViewSchema)).rejects.toThrow(
      /^coordinator answered GET \/runs\/html with an unexpected body: \(root\): not JSON/,
    );
  });

  it('keeps the fields of an answer its contract does not name', async () => {
    const run = await new ApiClient(base, undefined).get('/runs/ok', RunViewSchema);
    expect(run).toEqual({ ...RUN, addedLater: true });
  });

  it('says to set NNQ_API_TOKEN on a 401, exit code 77', async () => {
    const err = await new ApiClient(base, undefined).get('/secret', RunViewSchema).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 401, code: 77, message: 'Unauthorized (set NNQ_API_TOKEN)' });
  });

  it('knows a healthy coordinator, and says clearly when none answers', async () => {
    expect(await new ApiClient(base).healthy()).toBe(true);
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const nobody = new ApiClient(`http://127.0.0.1:${port}`, undefined);
    expect(await nobody.healthy(500)).toBe(false);
    const err = await nobody.get('/runs', RunViewListSchema).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as UnreachableError).code).toBe(69);
    expect((err as Error).message).toMatch(
      /^no coordinator answers at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)\.\n.*nnq up.*NNQ_URL/,
    );
  });
});

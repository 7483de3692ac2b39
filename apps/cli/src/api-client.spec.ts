import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, ApiError, coordinatorUrl, UnreachableError } from './api-client';

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
    await new ApiClient(base, 'x'.repeat(16)).get('/runs');
    expect(seen.at(-1)?.headers.authorization).toBe(`Bearer ${'x'.repeat(16)}`);
    await new ApiClient(base, undefined).get('/runs');
    expect(seen.at(-1)?.headers.authorization).toBeUndefined();
  });

  it('turns a 400 into an ApiError with the problems', async () => {
    const err = await new ApiClient(base, undefined).post('/runs', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 400, code: 1, problems: ['batchSize: must be at least 1'] });
    expect((err as Error).message).toBe('invalid run config:\n  batchSize: must be at least 1');
  });

  it('says to set NNQ_API_TOKEN on a 401, exit code 77', async () => {
    const err = await new ApiClient(base, undefined).get('/secret').catch((e: unknown) => e);
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
    const err = await nobody.get('/runs').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as UnreachableError).code).toBe(69);
    expect((err as Error).message).toMatch(
      /^no coordinator answers at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)\.\n.*nnq up.*NNQ_URL/,
    );
  });
});

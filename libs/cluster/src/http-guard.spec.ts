import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { allowedHosts, browserGuard, jsonBoundsGuard } from './http-guard';

interface Answer {
  status?: number;
  body?: { statusCode: number; message: string; problems?: string[]; error: string };
  passed: boolean;
}

/** Runs `guard` on a request with these headers; what it answered, or that it called next(). */
function run(
  guard: ReturnType<typeof browserGuard>,
  method: string,
  headers: Record<string, string>,
  body?: unknown,
): Answer {
  const answer: Answer = { passed: false };
  const req = { method, headers, body } as unknown as IncomingMessage;
  const res = {
    writeHead: (status: number) => (answer.status = status),
    end: (text: string) => (answer.body = JSON.parse(text) as Answer['body']),
  } as unknown as ServerResponse;
  guard(req, res, () => (answer.passed = true));
  return answer;
}

const local = { NNQ_HOST: '127.0.0.1', NNQ_ALLOWED_HOSTS: '' };
const guard = browserGuard(local);
const json = { host: '127.0.0.1:3000', 'content-type': 'application/json', 'content-length': '2' };

describe('browserGuard: Host', () => {
  it.each([
    'localhost',
    'localhost:3000',
    '127.0.0.1:3000',
    '[::1]:3000',
    'LOCALHOST.:80',
    '10.1.2.3:9100',
    '[fe80::1]',
  ])('serves %s', (host) => expect(run(guard, 'GET', { host }).passed).toBe(true));

  it.each(['evil.example', 'evil.example:3000', 'localhost.evil.example', '127.0.0.1.nip.io:3000', 'a b', ''])(
    'refuses Host %j with 421 or 400, naming NNQ_ALLOWED_HOSTS',
    (host) => {
      const a = run(guard, 'GET', host ? { host } : {});
      expect(a.passed).toBe(false);
      if (host) {
        expect(a.status).toBe(421);
        expect(a.body?.message).toMatch(
          /^this server does not answer to the host ".*": .*add the name to NNQ_ALLOWED_HOSTS$/,
        );
      } else expect(a.body?.message).toMatch(/^the request has no Host header$/);
    },
  );

  it('echoes a foreign Host escaped and shortened', () => {
    const a = run(guard, 'GET', { host: `evil\u009b${'x'.repeat(200)}` });
    expect(a.body?.message).toMatch(/^this server does not answer to the host "evil\\u009Bx{95}\.\.\.":/);
  });

  it('serves NNQ_HOST when it is a name, and NNQ_ALLOWED_HOSTS', () => {
    expect([...allowedHosts({ NNQ_HOST: 'Box.Lan', NNQ_ALLOWED_HOSTS: ' nnq.example.com ,api.example.' })]).toEqual([
      'localhost',
      '127.0.0.1',
      '[::1]',
      'box.lan',
      'nnq.example.com',
      'api.example',
    ]);
    expect([...allowedHosts({ NNQ_HOST: '0.0.0.0', NNQ_ALLOWED_HOSTS: '' })]).toEqual([
      'localhost',
      '127.0.0.1',
      '[::1]',
    ]);
    const g = browserGuard({ NNQ_HOST: '0.0.0.0', NNQ_ALLOWED_HOSTS: 'nnq.example.com' });
    expect(run(g, 'GET', { host: 'nnq.example.com' }).passed).toBe(true);
    expect(run(g, 'GET', { host: 'other.example.com' }).status).toBe(421);
  });
});

describe('browserGuard: Origin and Sec-Fetch-Site on mutations', () => {
  it('passes a same-origin mutation and one from a client that is no browser', () => {
    expect(run(guard, 'POST', { ...json, origin: 'http://127.0.0.1:3000' }).passed).toBe(true);
    expect(run(guard, 'POST', { ...json, 'sec-fetch-site': 'same-origin' }).passed).toBe(true);
    expect(run(guard, 'POST', json).passed).toBe(true);
    // behind a TLS proxy that keeps the Host: the default ports are the same origin
    const proxied = browserGuard({ NNQ_HOST: '0.0.0.0', NNQ_ALLOWED_HOSTS: 'nnq.example.com' });
    expect(run(proxied, 'POST', { ...json, host: 'nnq.example.com', origin: 'https://nnq.example.com' }).passed).toBe(
      true,
    );
  });

  it.each([
    ['another site', { origin: 'https://evil.example' }],
    ['another port of the same host', { origin: 'http://127.0.0.1:8080' }],
    ['localhost for 127.0.0.1', { origin: 'http://localhost:3000' }],
    ['an opaque origin', { origin: 'null' }],
  ])('refuses a mutation from %s with 403', (_what, headers) => {
    const a = run(guard, 'POST', { ...json, ...headers });
    expect(a.status).toBe(403);
    expect(a.body?.message).toMatch(/^a request from another origin \(".*"\) may not change anything here/);
  });

  it.each(['cross-site', 'same-site'])('refuses Sec-Fetch-Site: %s on a mutation, not on a read', (site) => {
    const a = run(guard, 'DELETE', { ...json, 'sec-fetch-site': site });
    expect(a.status).toBe(403);
    expect(a.body?.message).toMatch(new RegExp(`^a ${site} request may not change anything here`));
    expect(run(guard, 'GET', { host: json.host, 'sec-fetch-site': site, origin: 'https://evil.example' }).passed).toBe(
      true,
    );
  });
});

describe('browserGuard: content type of mutations', () => {
  it.each([
    ['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded'],
    ['multipart/form-data; boundary=x', 'multipart/form-data; boundary=x'],
    ['text/plain', 'text/plain'],
  ])('refuses a %s body with 415', (type, shown) => {
    const a = run(guard, 'POST', { ...json, 'content-type': type });
    expect(a.status).toBe(415);
    expect(a.body?.message).toBe(`the request body must be JSON (content-type: application/json), got ${shown}`);
  });

  it('refuses an empty form (content type, no bytes) and a body without a content type', () => {
    const form = { host: json.host, 'content-type': 'application/x-www-form-urlencoded', 'content-length': '0' };
    expect(run(guard, 'POST', form).status).toBe(415);
    const untyped = run(guard, 'PUT', { host: json.host, 'transfer-encoding': 'chunked' });
    expect(untyped.body?.message).toMatch(/got no content-type$/);
  });

  it('passes JSON with parameters, and a bodiless mutation', () => {
    expect(run(guard, 'POST', { ...json, 'content-type': 'Application/JSON; charset=utf-8' }).passed).toBe(true);
    expect(run(guard, 'POST', { host: json.host }).passed).toBe(true);
    expect(run(guard, 'POST', { host: json.host, 'content-length': '0' }).passed).toBe(true);
  });
});

describe('jsonBoundsGuard', () => {
  it('answers 400 with the path of a too deep body, and passes others', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 20_000; i++) deep = [deep];
    const a = run(jsonBoundsGuard(), 'POST', json, { inputs: deep });
    expect(a.status).toBe(400);
    expect(a.body?.problems).toEqual([
      expect.stringMatching(/^inputs(\[0\]){31}: is nested more than 32 levels deep$/),
    ]);
    expect(run(jsonBoundsGuard(), 'POST', json, { inputs: [[1, 2]] }).passed).toBe(true);
    expect(run(jsonBoundsGuard(), 'POST', json).passed).toBe(true);
  });
});

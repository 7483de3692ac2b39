import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { cookieValue, QUEUES_COOKIE, queuesAuth } from './queues-board';

const TOKEN = 'a-token-of-at-least-16-chars';

/** Runs the middleware on a fake request; says whether it passed and what it answered. */
function call(token: string | undefined, url: string, headers: Record<string, string> = {}) {
  const res = { statusCode: 200, headers: {} as Record<string, string>, body: '' };
  const fake = {
    setHeader: (k: string, v: string) => (res.headers[k.toLowerCase()] = v),
    end: (body?: string) => (res.body = body ?? ''),
    get statusCode() {
      return res.statusCode;
    },
    set statusCode(v: number) {
      res.statusCode = v;
    },
  } as unknown as ServerResponse;
  let passed = false;
  queuesAuth(token)({ url, originalUrl: url, headers } as never, fake, () => (passed = true));
  return { passed, ...res };
}

describe('queuesAuth', () => {
  it('lets everything through when no token is configured', () => {
    expect(call(undefined, '/queues').passed).toBe(true);
  });

  it('accepts the bearer token and refuses a missing or wrong one with 401', () => {
    expect(call(TOKEN, '/queues', { authorization: `Bearer ${TOKEN}` }).passed).toBe(true);
    const none = call(TOKEN, '/queues');
    expect(none).toMatchObject({ passed: false, statusCode: 401 });
    expect(none.body).toMatch(/needs NNQ_API_TOKEN: send Authorization: Bearer <token>, or open \/queues\?token=/);
    expect(call(TOKEN, '/queues', { authorization: 'Bearer nope' }).statusCode).toBe(401);
  });

  it('trades ?token= for an HttpOnly cookie holding a MAC, and redirects without the token', () => {
    const login = call(TOKEN, `/queues/queue/nnq-shards?token=${TOKEN}&status=failed`);
    expect(login).toMatchObject({ passed: false, statusCode: 303 });
    expect(login.headers.location).toBe('/queues/queue/nnq-shards?status=failed');
    expect(login.headers['set-cookie']).toBe(
      `${QUEUES_COOKIE}=${cookieValue(TOKEN)}; Path=/queues; HttpOnly; SameSite=Strict`,
    );
    expect(login.headers['set-cookie']).not.toContain(TOKEN);
    expect(call(TOKEN, '/queues/api/queues', { cookie: `a=1; ${QUEUES_COOKIE}=${cookieValue(TOKEN)}` }).passed).toBe(
      true,
    );
    expect(call(TOKEN, '/queues', { cookie: `${QUEUES_COOKIE}=${cookieValue('another-token-16-chars')}` }).passed).toBe(
      false,
    );
    expect(call(TOKEN, '/queues?token=wrong').body).toMatch(/does not match NNQ_API_TOKEN/);
  });
});

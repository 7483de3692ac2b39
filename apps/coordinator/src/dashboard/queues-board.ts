import { createBullBoard } from '@bull-board/api';
import type { IServerAdapter } from '@bull-board/api/typings/app';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { getQueueToken } from '@nestjs/bullmq';
import type { INestApplication } from '@nestjs/common';
import { SHARD_QUEUE } from '@nnq/protocol';
import type { Queue } from 'bullmq';
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const QUEUES_PATH = '/queues';
export const QUEUES_COOKIE = 'nnq_queues';

type Request = IncomingMessage & { originalUrl?: string; secure?: boolean };

/** The cookie holds a MAC of the token, not the token: a leaked cookie opens /queues only, not the API. */
export function cookieValue(token: string): string {
  return createHmac('sha256', token).update('nnq /queues cookie').digest('base64url');
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Guards bull-board (which can retry, remove and clean jobs) with NNQ_API_TOKEN when one is set.
 * Accepted: `Authorization: Bearer <token>`, or the cookie set by opening `/queues?token=<token>`
 * once in a browser (HttpOnly, SameSite=Strict, path /queues; the page then reloads without the
 * token in its address). Without a token configured, /queues is open like the rest of the reads.
 */
export function queuesAuth(token: string | undefined) {
  const expected = token ? cookieValue(token) : '';
  return (req: Request, res: ServerResponse, next: () => void): void => {
    if (!token) return next();
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (bearer !== undefined && same(bearer, token)) return next();
    const url = new URL(req.originalUrl ?? req.url ?? '/', 'http://localhost');
    const given = url.searchParams.get('token');
    if (given !== null && same(given, token)) {
      const secure = req.secure ? '; Secure' : '';
      res.setHeader(
        'Set-Cookie',
        `${QUEUES_COOKIE}=${expected}; Path=${QUEUES_PATH}; HttpOnly; SameSite=Strict${secure}`,
      );
      url.searchParams.delete('token');
      res.statusCode = 303;
      res.setHeader('Location', url.pathname + url.search);
      res.end();
      return;
    }
    const fromCookie = cookie(req.headers.cookie, QUEUES_COOKIE);
    if (given === null && fromCookie !== undefined && same(fromCookie, expected)) return next();
    res.statusCode = 401;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('WWW-Authenticate', 'Bearer');
    res.end(
      given === null
        ? `${QUEUES_PATH} needs NNQ_API_TOKEN: send Authorization: Bearer <token>, ` +
            `or open ${QUEUES_PATH}?token=<token> once in the browser (it sets a cookie)\n`
        : 'the token does not match NNQ_API_TOKEN\n',
    );
  };
}

/** Mounts bull-board for the shard queue at /queues. Call before listen(), so it comes before Nest's 404. */
export function mountQueuesBoard(app: INestApplication, token: string | undefined): void {
  const queue = app.get<Queue>(getQueueToken(SHARD_QUEUE));
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(QUEUES_PATH);
  createBullBoard({
    queues: [new BullMQAdapter(queue)],
    // @bull-board/express 9.10.1 pins its own @bull-board/api 9.10.1 beside our 9.10.2: the same
    // interface from two declaration files, which TypeScript will not match (private members)
    serverAdapter: serverAdapter as unknown as IServerAdapter,
    options: { uiConfig: { boardTitle: 'nnq queues' } },
  });
  app.use(QUEUES_PATH, queuesAuth(token), serverAdapter.getRouter());
}

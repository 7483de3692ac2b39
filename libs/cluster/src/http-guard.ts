import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { jsonBoundsProblem, quoted } from '@nnq/protocol';
import type { NnqConfig } from '@nnq/config';

/**
 * Requests a browser can be made to send: the checks every nnq HTTP server runs before routing.
 *
 * - Host: DNS rebinding points a name the attacker controls at 127.0.0.1, and the victim's browser
 *   then reads and writes a loopback coordinator "same-origin" under that name. A Host header must
 *   name this server: a loopback name, NNQ_HOST when it is a name, one of NNQ_ALLOWED_HOSTS, or
 *   an IP address (no DNS answer makes a browser send an address it did not navigate to).
 * - Origin: a page can submit forms and fetch()es to any origin. A mutation (POST, PUT, PATCH,
 *   DELETE) that says where it comes from (Origin, or Sec-Fetch-Site) must come from this very
 *   origin; a request without either header is not a browser's (curl, the CLI) and passes.
 * - Content type: forms send urlencoded, multipart or text/plain bodies without a CORS preflight;
 *   a mutation's body must be application/json (a bodiless one, `POST /runs/:id/cancel`, passes).
 * Nothing here sends CORS headers: other origins get no permission to read answers.
 */

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];
const MUTATIONS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** `name` or `name:port`, `[v6]` or `[v6]:port`. */
const HOST_HEADER = /^(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::(\d{1,5}))?$/;

type Next = (err?: unknown) => void;
type Middleware = (req: IncomingMessage, res: ServerResponse, next: Next) => void;
type GuardConfig = Pick<NnqConfig, 'NNQ_HOST' | 'NNQ_ALLOWED_HOSTS'>;

/** Host names (lower case, no port, no trailing dot) a server with `config` answers to. */
export function allowedHosts(config: GuardConfig): Set<string> {
  const names = new Set(LOOPBACK_NAMES);
  const own = config.NNQ_HOST.toLowerCase();
  if (!isIP(own) && own !== 'localhost') names.add(own.replace(/\.$/, ''));
  for (const h of config.NNQ_ALLOWED_HOSTS.split(','))
    if (h.trim()) names.add(h.trim().toLowerCase().replace(/\.$/, ''));
  return names;
}

/** The name and port of a Host header or an origin's authority, or null when it is not one. */
export function splitHost(authority: string): { name: string; port: string } | null {
  const m = HOST_HEADER.exec(authority.toLowerCase());
  if (!m || (m[2] !== undefined && Number(m[2]) > 65535)) return null;
  return { name: m[1].replace(/\.$/, ''), port: m[2] ?? '' };
}

const isAddress = (name: string) => isIP(name.replace(/^\[|\]$/g, '')) !== 0;

/** The caller's own header, shortened and escaped: never anything of ours. */
const quote = (v: string) => quoted(v, 100);

/** An answer in Nest's error shape, so clients parse one format. */
export function refuse(
  res: ServerResponse,
  statusCode: number,
  error: string,
  message: string,
  problems?: string[],
): void {
  const body = JSON.stringify({ statusCode, message, ...(problems && { problems }), error });
  res.writeHead(statusCode, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Why a request's Host is not ours (421/400), or null. */
function hostProblem(req: IncomingMessage, hosts: Set<string>): [number, string, string] | null {
  const header = req.headers.host;
  if (!header) return [400, 'Bad Request', 'the request has no Host header'];
  const host = splitHost(header);
  if (host && (hosts.has(host.name) || isAddress(host.name))) return null;
  return [
    421,
    'Misdirected Request',
    `this server does not answer to the host ${quote(header)}: ` +
      'to serve it under that name, add the name to NNQ_ALLOWED_HOSTS',
  ];
}

/** `host` with a default port (80, 443) dropped, for comparing an origin with a Host header. */
function authority(host: { name: string; port: string }): string {
  return host.port && host.port !== '80' && host.port !== '443' ? `${host.name}:${host.port}` : host.name;
}

/** Who may send a mutation, the end of every 403's reason. */
const ONLY_SAME_ORIGIN = 'only pages of this origin, or clients that are not browsers, may';

/** Why a mutation is not from this origin (403), or null. */
function originProblem(req: IncomingMessage): string | null {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    const kind = /^(cross|same)-site$/.test(site) ? site : 'foreign';
    return `a ${kind} request may not change anything here (Sec-Fetch-Site: ${quote(site)}); ${ONLY_SAME_ORIGIN}`;
  }
  const origin = req.headers.origin;
  if (origin === undefined) return null;
  const from = URL.canParse(origin) ? splitHost(new URL(origin).host) : null;
  const to = splitHost(req.headers.host ?? '');
  if (from && to && authority(from) === authority(to)) return null;
  return `a request from another origin (${quote(origin)}) may not change anything here; ${ONLY_SAME_ORIGIN}`;
}

/** The 415 message: what was sent instead of a JSON body. */
export const notJson = (got: string) => `the request body must be JSON (content-type: application/json), got ${got}`;

/** Why a mutation's body is not JSON (415), or null. */
export function contentTypeProblem(req: IncomingMessage): string | null {
  const type = req.headers['content-type'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  if (type === undefined ? !hasBody : type.split(';')[0].trim().toLowerCase() === 'application/json') return null;
  return notJson(type === undefined ? 'no content-type' : quote(type).slice(1, -1));
}

/** Host, Origin and content-type checks (see above); register before the body parser and every route. */
export function browserGuard(config: GuardConfig): Middleware {
  const hosts = allowedHosts(config);
  return (req, res, next) => {
    const host = hostProblem(req, hosts);
    if (host) return refuse(res, ...host);
    if (MUTATIONS.has(req.method ?? '')) {
      const origin = originProblem(req);
      if (origin) return refuse(res, 403, 'Forbidden', origin);
      const type = contentTypeProblem(req);
      if (type) return refuse(res, 415, 'Unsupported Media Type', type);
    }
    next();
  };
}

/**
 * Refuses a parsed JSON body that is nested too deep or too large (libs/protocol JSON_BOUNDS) with
 * 400 and the path, before any handler or schema walks it recursively. Register after the parser.
 */
export function jsonBoundsGuard(): Middleware {
  return (req, res, next) => {
    const body = (req as IncomingMessage & { body?: unknown }).body;
    const problem = body === undefined ? null : jsonBoundsProblem(body);
    if (!problem) return next();
    refuse(res, 400, 'Bad Request', 'invalid request body', [problem]);
  };
}

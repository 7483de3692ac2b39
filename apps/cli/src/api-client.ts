import { AnswerMismatchError, parseAnswer } from '@nnq/protocol';
import type { z } from 'zod';
import { CliError, EXIT } from './cli-error';

/** An HTTP error answer of the coordinator: status, message and, for 400s, the problems by path. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    message: string,
    readonly problems: string[] = [],
  ) {
    super(
      problems.length ? `${message}:\n  ${problems.join('\n  ')}` : message,
      status === 401 || status === 403 ? EXIT.noPermission : EXIT.failed,
    );
    this.name = 'ApiError';
  }
}

/**
 * The coordinator answered 2xx with a body its contract (@nnq/protocol api) does not allow: names
 * the request and each wrong field, e.g. `coordinator answered GET /runs/abc with an unexpected
 * body: state: ...`. Most likely a coordinator of another nnq version.
 */
export class UnexpectedAnswerError extends CliError {
  constructor(
    readonly request: string,
    readonly problems: string[],
    message = new AnswerMismatchError(request, problems).message,
  ) {
    super(`${message} (is the coordinator the same nnq version as this CLI?)`, EXIT.failed);
    this.name = 'UnexpectedAnswerError';
  }
}

/** The coordinator did not answer at all (refused, timed out, DNS). */
export class UnreachableError extends CliError {
  constructor(
    readonly baseUrl: string,
    cause: string,
  ) {
    super(
      `no coordinator answers at ${baseUrl} (${cause}).\n` +
        `  Start one with "nnq up", or set NNQ_URL to where it runs.`,
      EXIT.unavailable,
    );
    this.name = 'UnreachableError';
  }
}

/** NNQ_URL, else http://127.0.0.1:${NNQ_PORT:-3000}; refuses a value that is not an http(s) URL. */
export function coordinatorUrl(env: NodeJS.ProcessEnv = process.env): string {
  const url = env.NNQ_URL ?? `http://127.0.0.1:${env.NNQ_PORT || '3000'}`;
  if (!/^https?:\/\/\S+$/.test(url) || !URL.canParse(url)) {
    throw new CliError(`NNQ_URL must be an http:// or https:// URL (got ${JSON.stringify(url)})`, EXIT.config);
  }
  return url.replace(/\/+$/, '');
}

/** A small client of the coordinator's HTTP API; sends the bearer token when NNQ_API_TOKEN is set. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string | undefined = process.env.NNQ_API_TOKEN,
    private readonly timeoutMs = 30_000,
  ) {}

  /** True when GET /health answers 2xx within `timeoutMs`. */
  async healthy(timeoutMs = 1000): Promise<boolean> {
    try {
      const res = await fetch(`${this.baseUrl}/health`, {
        headers: this.headers(),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.arrayBuffer();
      return res.ok;
    } catch {
      return false;
    }
  }

  /** GET `path`, its answer checked against `schema` (the contract's, from @nnq/protocol). */
  get<S extends z.ZodType>(path: string, schema: S): Promise<z.output<S>> {
    return this.json('GET', path, schema);
  }

  /** POST `body` to `path`, its answer checked against `schema`. */
  post<S extends z.ZodType>(path: string, body: unknown, schema: S): Promise<z.output<S>> {
    return this.json('POST', path, schema, body);
  }

  /** DELETE `path`; the answer has no body (204). */
  async delete(path: string): Promise<void> {
    await (await this.request('DELETE', path)).arrayBuffer();
  }

  async bytes(path: string): Promise<Uint8Array> {
    const res = await this.request('GET', path);
    return new Uint8Array(await res.arrayBuffer());
  }

  private async json<S extends z.ZodType>(
    method: string,
    path: string,
    schema: S,
    body?: unknown,
  ): Promise<z.output<S>> {
    const res = await this.request(method, path, body);
    const request = `${method} ${path}`;
    let answer: unknown;
    try {
      answer = JSON.parse(await res.text());
    } catch {
      throw new UnexpectedAnswerError(request, ['(root): not JSON']);
    }
    try {
      return parseAnswer(schema, answer, request);
    } catch (err) {
      if (err instanceof AnswerMismatchError) throw new UnexpectedAnswerError(request, err.problems, err.message);
      throw err;
    }
  }

  private headers(json = false): Record<string, string> {
    return {
      ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
      ...(json ? { 'content-type': 'application/json' } : {}),
    };
  }

  private async request(method: string, path: string, body?: unknown): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: this.headers(body !== undefined),
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new UnreachableError(this.baseUrl, describeFetchError(err));
    }
    if (res.ok) return res;
    const text = await res.text();
    let message = `${method} ${path}: HTTP ${res.status}`;
    let problems: string[] = [];
    try {
      const parsed = JSON.parse(text) as { message?: unknown; problems?: unknown };
      if (typeof parsed.message === 'string') message = parsed.message;
      else if (Array.isArray(parsed.message)) problems = parsed.message.map(String);
      if (Array.isArray(parsed.problems)) problems = parsed.problems.map(String);
    } catch {
      if (text.trim()) message += ` ${text.trim().slice(0, 200)}`;
    }
    if ((res.status === 401 || res.status === 403) && !message.includes('NNQ_API_TOKEN')) {
      message += this.token ? " (is NNQ_API_TOKEN the coordinator's token?)" : ' (set NNQ_API_TOKEN)';
    }
    throw new ApiError(res.status, message, problems);
  }
}

/** undici's "fetch failed" hides the reason in `cause`: ECONNREFUSED, a timeout, a DNS failure. */
export function describeFetchError(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return 'timed out';
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}

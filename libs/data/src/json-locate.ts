import { quote } from './excerpt';

/**
 * Positions in JSON text: JSON.parse says neither where a syntax error sits (on every Node
 * version) nor where a parsed value came from. This small recursive-descent scanner answers both,
 * for dataset files here and for the CLI's config and input files (apps/cli/src/json-text.ts).
 */

export type JsonPath = readonly (string | number)[];

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
// JSON strings may not hold raw control characters U+0000..U+001F
// eslint-disable-next-line no-control-regex
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;

class Found {
  constructor(readonly offset: number) {}
}

class Scanner {
  i = 0;
  constructor(
    readonly text: string,
    readonly target?: JsonPath,
  ) {}

  fail(): never {
    throw new Found(this.i);
  }

  ws(): void {
    const t = this.text;
    while (this.i < t.length) {
      const c = t.charCodeAt(this.i);
      if (c !== 32 && c !== 9 && c !== 10 && c !== 13) break;
      this.i++;
    }
  }

  token(re: RegExp): string {
    re.lastIndex = this.i;
    const m = re.exec(this.text);
    if (!m) this.fail();
    this.i += m[0].length;
    return m[0];
  }

  /** Scan one value; `match` says the path so far equals target[0..depth). */
  value(match: boolean, depth: number): void {
    this.ws();
    if (match && this.target && depth === this.target.length) throw new Found(this.i);
    const t = this.text;
    const c = t[this.i];
    if (c === '{') {
      this.i++;
      this.ws();
      if (t[this.i] === '}') return void this.i++;
      for (;;) {
        this.ws();
        const key = JSON.parse(this.token(STRING)) as string;
        this.ws();
        if (t[this.i] !== ':') this.fail();
        this.i++;
        this.value(match && this.target?.[depth] === key, depth + 1);
        this.ws();
        if (t[this.i] === ',') this.i++;
        else if (t[this.i] === '}') return void this.i++;
        else this.fail();
      }
    }
    if (c === '[') {
      this.i++;
      this.ws();
      if (t[this.i] === ']') return void this.i++;
      for (let k = 0; ; k++) {
        this.value(match && this.target?.[depth] === k, depth + 1);
        this.ws();
        if (t[this.i] === ',') this.i++;
        else if (t[this.i] === ']') return void this.i++;
        else this.fail();
      }
    }
    if (c === '"') return void this.token(STRING);
    for (const lit of ['true', 'false', 'null']) {
      if (t.startsWith(lit, this.i)) return void (this.i += lit.length);
    }
    this.token(NUMBER);
  }
}

/** Offset of the first syntax error in `text`, or -1 when it is valid JSON. */
export function jsonSyntaxErrorOffset(text: string): number {
  const s = new Scanner(text);
  try {
    s.value(false, 0);
    s.ws();
    return s.i < text.length ? s.i : -1;
  } catch (e) {
    if (e instanceof Found) return e.offset;
    throw e;
  }
}

/** Offset where the value at `path` starts, or -1 if there is none. */
export function jsonPathOffset(text: string, path: JsonPath): number {
  const s = new Scanner(text, path);
  try {
    s.value(true, 0);
    return -1;
  } catch (e) {
    if (e instanceof Found) return e.offset;
    throw e;
  }
}

/** 1-based line and column of a character offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let k = text.indexOf('\n'); k >= 0 && k < offset; k = text.indexOf('\n', k + 1)) {
    line++;
    lineStart = k + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

/** Where JSON.parse's `err` on `text` sits (1-based line and column) and why, in our words. */
export function jsonSyntaxError(text: string, err: Error): { line: number; column: number; reason: string } {
  const { line, column } = lineColumn(text, Math.max(0, jsonSyntaxErrorOffset(text)));
  return { line, column, reason: jsonReason(err) };
}

/**
 * V8's reason without its copy of the text (`"...abc" is not valid JSON`, `"abc"... is not valid
 * JSON`) or position (we give line:column); a token it names is quoted as an escaped excerpt.
 */
export function jsonReason(err: Error): string {
  return err.message
    .replace(/, (\.\.\.)?".*"(\.\.\.)? is not valid JSON$/s, '')
    .replace(/ in JSON at position \d+.*$/s, '')
    .replace(/^Unexpected token '(.*)'$/s, (_, t: string) => `unexpected token ${quote(t, 8)}`)
    .replace(/^Unexpected end of JSON input$/, 'unexpected end of input');
}

import { z } from 'zod';

/**
 * Printable text: what a name or label may hold so that it prints as itself in a terminal, in a
 * strict JSON parser and on a page. Not printable: C0 controls and DEL (U+0000-001F, U+007F), C1
 * controls (U+0080-009F, which terminals read as escape sequences), the line and paragraph
 * separators (U+2028-2029), the bidi embeddings, overrides and isolates (U+202A-202E,
 * U+2066-2069, which reorder what is shown after them) and lone surrogates (not Unicode text:
 * strict decoders refuse them).
 */
// the control characters are the point of this pattern
// eslint-disable-next-line no-control-regex
const NON_PRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]/u;
const NON_PRINTABLE_ALL = new RegExp(NON_PRINTABLE.source, 'gu');

const hex = (cp: number) => cp.toString(16).toUpperCase().padStart(4, '0');

function kind(cp: number): string {
  if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return 'a control character';
  if (cp === 0x2028 || cp === 0x2029) return 'a line separator';
  if (cp >= 0xd800 && cp <= 0xdfff) return 'a lone surrogate';
  return 'a bidi control';
}

/** Why `s` is not printable text (`U+202E at character 3 is a bidi control`), or null when it is. */
export function nonPrintableProblem(s: string): string | null {
  const m = NON_PRINTABLE.exec(s);
  if (!m) return null;
  const cp = m[0].codePointAt(0)!;
  return `must be printable text: U+${hex(cp)} at character ${m.index} is ${kind(cp)}`;
}

/** `s` with every non-printable character written as `\uXXXX` (valid inside a JSON string too). */
export function escapeNonPrintable(s: string): string {
  return s.replace(NON_PRINTABLE_ALL, (ch) => `\\u${hex(ch.codePointAt(0)!)}`);
}

/** Why `s` cannot be a name (run, dataset): not printable text, or markup's `<` `>`; null when it can. */
export function nameProblem(s: string): string | null {
  return nonPrintableProblem(s) ?? (/[<>]/.test(s) ? 'must not contain < or >' : null);
}

/** A name (run, dataset): 1-100 characters of printable text without `<` `>` (nameProblem). */
export const NameSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters')
  .superRefine((s, ctx) => {
    const problem = nameProblem(s);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/**
 * `s` as a JSON string literal for a message that echoes input: at most `max` characters (then
 * `...`), and nothing non-printable left raw (JSON.stringify escapes C0 controls only).
 */
export function quoted(s: string, max = 80): string {
  return escapeNonPrintable(JSON.stringify(s.length > max ? `${s.slice(0, max)}...` : s));
}

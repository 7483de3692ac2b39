/**
 * Quoting data in error messages. A message about a file may reach someone who may not read the
 * file (an HTTP client, a log): it quotes at most a short excerpt of a cell, label or name, as a
 * JSON string literal with every control, line-separator and bidirectional-override character
 * escaped, so an excerpt can neither leak much nor forge lines or reorder the text around it.
 */

/** Longest excerpt of file content a message quotes, in characters (before escaping). */
export const MAX_EXCERPT = 40;

// C1 controls, DEL, line/paragraph separators and bidi controls: JSON.stringify leaves these raw
const UNSAFE = /[\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

/** `text` as a quoted, escaped excerpt of at most `max` characters (`...` marks a cut). */
export function quote(text: string, max = MAX_EXCERPT): string {
  const chars = [...text];
  const cut = chars.length > max ? `${chars.slice(0, max - 3).join('')}...` : text;
  return JSON.stringify(cut).replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const PLAIN_NAME = /^[A-Za-z0-9_.-][A-Za-z0-9_. -]{0,23}$/;

/**
 * A list of names (a header, a record's keys), at most `max` of them: plain short names as they
 * are (`x1, x2, y`), any other name quoted and cut like an excerpt.
 */
export function quoteList(names: readonly string[], max = 10): string {
  const shown = names.slice(0, max).map((n) => (PLAIN_NAME.test(n) ? n : quote(n, 24)));
  return names.length > max ? `${shown.join(', ')}, ... (${names.length} in all)` : shown.join(', ');
}

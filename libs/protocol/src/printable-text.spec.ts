import { describe, expect, it } from 'vitest';
import { escapeNonPrintable, nameProblem, nonPrintableProblem, quoted } from './printable-text';

describe('printable text', () => {
  it('accepts letters of any script, emoji (surrogate pairs) and punctuation', () => {
    for (const s of ['spirals-1', 'Ünïcødé 名前 عربى', 'run 🚀 #2', 'a\u00a0b'])
      expect(nonPrintableProblem(s)).toBeNull();
  });

  it.each([
    ['a\u0000b', /U\+0000 at character 1 is a control character/],
    ['tab\there', /U\+0009 at character 3 is a control character/],
    ['esc\u001b[31m', /U\+001B at character 3 is a control character/],
    ['del\u007f', /U\+007F at character 3 is a control character/],
    ['csi\u009b31m', /U\+009B at character 3 is a control character/],
    ['line\u2028sep', /U\+2028 at character 4 is a line separator/],
    ['abc\u202etxt.exe', /U\+202E at character 3 is a bidi control/],
    ['iso\u2066late', /U\+2066 at character 3 is a bidi control/],
    ['lone\ud800', /U\+D800 at character 4 is a lone surrogate/],
    ['\udc00low', /U\+DC00 at character 0 is a lone surrogate/],
  ])('refuses %j', (s, message) => {
    expect(nonPrintableProblem(s)).toMatch(new RegExp(`^must be printable text: ${message.source}$`));
  });

  it('escapes what is not printable as \\uXXXX, leaving the rest', () => {
    expect(escapeNonPrintable('a\u001b[2Jb\u202ec\ud800 🚀')).toBe('a\\u001B[2Jb\\u202Ec\\uD800 🚀');
    // the escaped form is still valid JSON inside a string
    expect(JSON.parse(`"${escapeNonPrintable('x\u009by')}"`)).toBe('x\u009by');
  });

  it('quotes input for a message shortened, with nothing non-printable raw', () => {
    expect(quoted('a\u009bb\u202e"c"')).toBe('"a\\u009Bb\\u202E\\"c\\""');
    expect(quoted('x'.repeat(10), 4)).toBe('"xxxx..."');
  });

  it('names are printable text without < or >', () => {
    expect(nameProblem('spirals 2')).toBeNull();
    expect(nameProblem('a<b>')).toBe('must not contain < or >');
    expect(nameProblem('a\u202eb')).toMatch(/^must be printable text: U\+202E/);
  });
});

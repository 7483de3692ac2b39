import { describe, expect, it } from 'vitest';
import { fmt, intIn, intList, oneOf, positiveAtMost } from './options';

describe('lecture option parsers', () => {
  it('take values in bounds', () => {
    expect(intIn('--steps', 1, 10)('10')).toBe(10);
    expect(positiveAtMost('--lr', 1)('0.05')).toBe(0.05);
    expect(intList('--units', 3, 64)('1,2,64')).toEqual([1, 2, 64]);
    expect(oneOf('--f', ['a', 'b'])('b')).toBe('b');
  });

  it.each([
    [() => intIn('--steps', 1, 10)('11'), /^--steps must be an integer from 1 to 10, got "11"$/],
    [() => intIn('--steps', 1, 10)('2.5'), /^--steps must be an integer from 1 to 10, got "2.5"$/],
    [() => positiveAtMost('--lr', 1)('0'), /^--lr must be a number above 0 and at most 1, got "0"$/],
    [() => positiveAtMost('--lr', 1)('NaN'), /^--lr must be a number above 0 and at most 1/],
    [() => intList('--units', 3, 64)('1,2,3,4'), /^--units takes at most 3 values, got 4$/],
    [() => intList('--units', 3, 64)('1,x'), /^--units\[1\]: must be an integer from 1 to 64, got "x"$/],
    [() => oneOf('--f', ['a', 'b'])('c'), /^--f must be one of a, b, got "c"$/],
  ])('refuses a bad value by flag and bounds (%#)', (parse, message) => {
    expect(parse).toThrow(message);
  });

  it('prints numbers to 6 significant digits, tiny ones as 0', () => {
    expect(fmt(0.5000000000000053)).toBe('0.5');
    expect(fmt(5.96e-8)).toBe('0');
    expect(fmt(-2)).toBe('-2');
  });
});

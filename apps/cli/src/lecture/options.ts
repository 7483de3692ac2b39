import { CliError, EXIT } from '../cli-error';

/**
 * Option parsers of the lecture commands: each refuses a bad value with the flag, the bounds and
 * what was given (exit 2), so nothing a command line names is unbounded.
 */

/** An integer in [min, max]. */
export function intIn(flag: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || n < min || n > max) {
      throw new CliError(`${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`, EXIT.usage);
    }
    return n;
  };
}

/** A finite number in (0, max]. */
export function positiveAtMost(flag: string, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > max) {
      throw new CliError(
        `${flag} must be a number above 0 and at most ${max}, got ${JSON.stringify(value)}`,
        EXIT.usage,
      );
    }
    return n;
  };
}

/** A comma list of at most `count` integers, each in [1, max]: `1,2,4`. */
export function intList(flag: string, count: number, max: number) {
  const one = intIn(flag, 1, max);
  return (value: string): number[] => {
    const parts = value.split(',');
    if (parts.length > count)
      throw new CliError(`${flag} takes at most ${count} values, got ${parts.length}`, EXIT.usage);
    return parts.map((p, i) => {
      try {
        return one(p);
      } catch (err) {
        throw new CliError(`${flag}[${i}]: ${(err as Error).message.replace(`${flag} `, '')}`, EXIT.usage);
      }
    });
  };
}

/** One of `choices`. */
export function oneOf<T extends string>(flag: string, choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new CliError(`${flag} must be one of ${choices.join(', ')}, got ${JSON.stringify(value)}`, EXIT.usage);
    }
    return value as T;
  };
}

/** A number shown as the lecture writes it: exact small values stay exact (0.5, not 0.5000000001). */
export function fmt(v: number, digits = 6): string {
  if (Math.abs(v) < 1e-6) return '0';
  return String(Number(v.toPrecision(digits)));
}

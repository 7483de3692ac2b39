import type { ProblemsError } from '@nnq/problems';

/**
 * The problems `parse` refuses `input` with (an error of class `refusal`), or [] when it accepts
 * it. Any other error is thrown on: a spec sees a crash as a crash.
 */
export function problemsOf(
  refusal: abstract new (...args: never[]) => ProblemsError,
  parse: (input: unknown) => unknown,
  input: unknown,
): string[] {
  try {
    parse(input);
    return [];
  } catch (err) {
    if (err instanceof refusal) return err.problems;
    throw err;
  }
}

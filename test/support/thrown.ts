/**
 * The error a call throws, for tests that look at its fields (code, problems) as well as its
 * message. A test fixture: it lives outside src/, so the build does not ship it.
 */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to throw; it returned');
}

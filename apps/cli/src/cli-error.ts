/** Exit codes of the nnq command (sysexits.h where one fits). */
export const EXIT = {
  ok: 0,
  /** The run failed, or an unexpected error. */
  failed: 1,
  /** A bad file or argument: config, inputs, model file. */
  usage: 2,
  /** No Redis, or no coordinator answers. */
  unavailable: 69,
  /** The coordinator refused our token (or wants one). */
  noPermission: 77,
  /** A bad environment variable. */
  config: 78,
  /** The run was cancelled, or Ctrl-C. */
  interrupted: 130,
} as const;

/** An error the CLI reports as `nnq <command>: <message>` and exits with `code`, without a stack. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

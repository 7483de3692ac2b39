import type { LogLevel } from '@nestjs/common';
import { ConfigError, loadConfig, type NnqConfig } from '@nnq/config';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/** Nest log levels up to and including `level`. */
export function logLevels(level: NnqConfig['NNQ_LOG_LEVEL']): LogLevel[] {
  return LEVELS.slice(0, LEVELS.indexOf(level) + 1);
}

/**
 * Validate the environment before Nest starts; on a bad value print what is wrong and exit 78
 * (EX_CONFIG), so a supervisor does not restart-loop silently.
 */
export function configOrExit(app: string): NnqConfig {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`nnq ${app}: ${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
}

/**
 * For children of `nnq up`: when NNQ_EXIT_WITH_PARENT=1, stdin is a pipe from the parent, and its
 * end means the parent is gone (even SIGKILLed): close gracefully instead of living on as an orphan.
 */
export function exitWithParent(close: () => Promise<void>): void {
  if (process.env.NNQ_EXIT_WITH_PARENT !== '1') return;
  process.stdin.on('error', () => undefined);
  process.stdin.once('end', () => {
    void close().finally(() => process.exit(0));
  });
  process.stdin.resume();
}

/** Listen, turning a busy port into a one-line message instead of a stack trace. */
export async function listenOrExit(
  app: { listen(port: number, host: string): Promise<unknown> },
  name: string,
  port: number,
  host: string,
  variable: string,
): Promise<void> {
  try {
    await app.listen(port, host);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      process.stderr.write(
        `nnq ${name}: port ${port} on ${host} is in use; set ${variable} to another port (0 picks a free one)\n`,
      );
      process.exit(1);
    }
    throw err;
  }
}

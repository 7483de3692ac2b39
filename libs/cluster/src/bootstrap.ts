import type { LogLevel } from '@nestjs/common';
import { ConfigError, loadConfig, type NnqConfig } from './config';

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

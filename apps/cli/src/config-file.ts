import { type SecondOrderConfig } from '@nnq/nn';
import { listProblems } from '@nnq/problems';
import {
  memoryBudgetProblems,
  parseLocalRunConfig,
  RunConfigError,
  type MemoryBudgets,
  type RunConfig,
} from '@nnq/training';
import { readFileSync } from 'node:fs';
import { CliError, EXIT } from './cli-error';
import { parseJsonText } from './json-text';

/** A run config file that does not validate: every problem by path, under the file's name. */
export class ConfigFileError extends CliError {
  constructor(
    readonly path: string,
    readonly problems: string[],
    what = 'invalid run config',
  ) {
    super(listProblems(`${path}: ${what}`, problems), EXIT.usage);
    this.name = 'ConfigFileError';
  }
}

/** Read a file as text; a missing or unreadable file is a usage error naming it. */
export function readTextFile(path: string, what = 'file'): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const reason = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'is a directory' : e.message;
    throw new CliError(`cannot read ${what} ${path}: ${reason}`, EXIT.usage);
  }
}

export interface RunConfigFile {
  /** The validated config, defaults applied. */
  config: RunConfig;
  /** The file's JSON as written: what is submitted to the coordinator. */
  json: unknown;
  /** A second-order optimizer (lbfgs, hessian_free): config.optimizer is a stand-in then. */
  secondOrder?: SecondOrderConfig | null;
}

/**
 * A run over the memory budgets (NNQ_WORKER_MEMORY_MB, NNQ_COORDINATOR_MEMORY_MB of this shell,
 * as the coordinator it starts would read them) is refused before anything starts: exit 2.
 */
export function checkMemoryBudget(path: string, config: RunConfig, budgets: MemoryBudgets): void {
  const problems = memoryBudgetProblems(config, budgets);
  if (problems.length) throw new ConfigFileError(path, problems, 'run exceeds the memory budget');
}

/** Read and validate a run config JSON file locally, before anything is started or submitted. */
export function readRunConfigFile(path: string, opts: { local?: boolean } = {}): RunConfigFile {
  return runConfigFromText(readTextFile(path, 'run config'), path, opts);
}

/** `local`: for the in-process trainer (the same validation: both run the second-order optimizers). */
export function runConfigFromText(text: string, path: string, _opts: { local?: boolean } = {}): RunConfigFile {
  const json = parseJsonText(text, path);
  try {
    // lbfgs and hessian_free run in-process and on the cluster alike (config.optimizer is a stand-in then)
    return { ...parseLocalRunConfig(json), json };
  } catch (err) {
    if (err instanceof RunConfigError) throw new ConfigFileError(path, err.problems);
    throw err;
  }
}

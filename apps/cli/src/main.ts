import { Command } from 'commander';
import { CliError } from './cli-error';
import { registerApprox } from './commands/approx.command';
import { registerDataset } from './commands/dataset.command';
import { registerExport } from './commands/export.command';
import { registerLecture } from './commands/lecture.command';
import { registerPredict } from './commands/predict.command';
import { registerRm } from './commands/rm.command';
import { registerStatus } from './commands/status.command';
import { registerSweep } from './commands/sweep.command';
import { registerTrain } from './commands/train.command';
import { registerUp } from './commands/up.command';
import { registerWatch } from './commands/watch.command';

// a closed terminal or pipe must not crash us before we stop what we started
process.stdout.on('error', () => undefined);
process.stderr.on('error', () => undefined);

const program = new Command('nnq').description('train feed-forward networks on a cluster of Node.js workers and Redis');
registerUp(program);
registerTrain(program);
registerSweep(program);
registerStatus(program);
registerWatch(program);
registerPredict(program);
registerExport(program);
registerDataset(program);
registerRm(program);
registerLecture(program);
registerApprox(program);

program.parseAsync(process.argv).catch((err: Error) => {
  // CliError: an expected failure with its own exit code (an empty message: already reported)
  if (err instanceof CliError) {
    if (err.message) process.stderr.write(`nnq: ${err.message}\n`);
    process.exit(err.code);
  }
  // @nnq/config's ConfigError (a bad environment variable), by name: main does not load that lib
  const config = err.name === 'ConfigError';
  process.stderr.write(`nnq: ${config ? err.message : (err.stack ?? err.message)}\n`);
  process.exit(config ? 78 : 1);
});

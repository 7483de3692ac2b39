import { ConfigError } from '@nnq/cluster';
import { Command } from 'commander';
import { registerUp } from './commands/up.command';

// a closed terminal or pipe must not crash us before we stop what we started
process.stdout.on('error', () => undefined);
process.stderr.on('error', () => undefined);

const program = new Command('nnq').description('train feed-forward networks on a cluster of Node.js workers and Redis');
registerUp(program);

program.parseAsync(process.argv).catch((err: Error) => {
  process.stderr.write(`nnq: ${err instanceof ConfigError ? err.message : (err.stack ?? err.message)}\n`);
  process.exit(err instanceof ConfigError ? 78 : 1);
});

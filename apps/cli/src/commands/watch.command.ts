import type { Command } from 'commander';
import { ApiClient, coordinatorUrl } from '../api-client';
import { CliError } from '../cli-error';
import { followRun } from '../follow-run';
import { ProgressRenderer } from '../progress-renderer';
import { exitCodeOf, formatOutcome } from '../run-view';
import { getRun } from './status.command';

/** `nnq watch <run-id>`: live progress of a run until it ends; Ctrl-C stops watching, not the run. */
export function registerWatch(program: Command): void {
  program
    .command('watch')
    .description('show the live progress of a run until it ends (Ctrl-C stops watching, the run continues)')
    .argument('<run-id>', 'the run to follow')
    .action(async (id: string) => {
      const client = new ApiClient(coordinatorUrl());
      await getRun(client, id); // a wrong id fails at once, not after the first poll
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const renderer = new ProgressRenderer(process.stdout);
      try {
        const { run, detached } = await followRun(client, id, renderer, { signal: stop.signal });
        if (detached) {
          process.stdout.write(`stopped watching; run ${run.id} continues (${run.state})\n`);
          throw new CliError('', 130);
        }
        process.stdout.write(`${formatOutcome(run)}\n`);
        if (exitCodeOf(run.state) !== 0) throw new CliError('', exitCodeOf(run.state));
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}

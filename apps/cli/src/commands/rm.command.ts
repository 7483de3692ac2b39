import type { Command } from 'commander';
import { ApiClient, ApiError, coordinatorUrl } from '../api-client';
import { CliError, EXIT } from '../cli-error';

/**
 * `nnq rm <run-id...>`: remove finished runs from the coordinator at NNQ_URL, with all they stored
 * (record, history, model and checkpoint files, Redis keys). A run still queued or running is
 * refused (cancel it first); each run is reported, and the exit code is that of the first refusal.
 */
export function registerRm(program: Command): void {
  program
    .command('rm')
    .description('remove finished runs and all they stored (record, history, model, checkpoint) from NNQ_URL')
    .argument('<run-id...>', 'the runs to remove')
    .action(async (ids: string[]) => {
      const client = new ApiClient(coordinatorUrl());
      let code: number = EXIT.ok;
      for (const id of ids) {
        try {
          await client.delete(`/runs/${encodeURIComponent(id)}`);
          process.stdout.write(`removed run ${id}\n`);
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
          const notFound = err.status === 404;
          const where = `no run ${JSON.stringify(id)} at ${client.baseUrl} (nnq status lists the runs)`;
          process.stderr.write(`nnq rm: ${notFound ? where : err.message}\n`);
          if (code === EXIT.ok) code = notFound ? EXIT.usage : err.code;
        }
      }
      if (code !== EXIT.ok) throw new CliError('', code);
    });
}

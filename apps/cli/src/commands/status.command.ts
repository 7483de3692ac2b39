import type { Command } from 'commander';
import { ApiClient, ApiError, coordinatorUrl } from '../api-client';
import { CliError, EXIT } from '../cli-error';
import { formatRunDetail, formatRunTable, formatWorkers, type RunView, type WorkerView } from '../run-view';

/** `nnq status [run-id]`: the runs (or one run) and the live workers of the coordinator at NNQ_URL. */
export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('list the runs of the coordinator at NNQ_URL (or show one run) and its live workers')
    .argument('[run-id]', 'show this run in detail')
    .option('--json', 'print the API answers as JSON')
    .action(async (id: string | undefined, opts: { json?: boolean }) => {
      const client = new ApiClient(coordinatorUrl());
      const [runs, workers] = await Promise.all([
        id ? getRun(client, id) : client.get<RunView[]>('/runs'),
        client.get<WorkerView[]>('/workers'),
      ]);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(id ? { run: runs, workers } : { runs, workers }, null, 2)}\n`);
        return;
      }
      const body = Array.isArray(runs) ? formatRunTable(runs) : formatRunDetail(runs);
      process.stdout.write(`${body}\n\n${formatWorkers(workers)}\n`);
    });
}

/** GET /runs/:id; a 404 is the user's typo, reported as such. */
export async function getRun(client: ApiClient, id: string): Promise<RunView> {
  try {
    return await client.get<RunView>(`/runs/${encodeURIComponent(id)}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      throw new CliError(`no run ${JSON.stringify(id)} at ${client.baseUrl} (nnq status lists the runs)`, EXIT.usage);
    }
    throw err;
  }
}

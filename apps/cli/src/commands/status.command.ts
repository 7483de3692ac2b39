import { escapeNonPrintable } from '@nnq/protocol';
import type { Command } from 'commander';
import { ApiClient, ApiError, coordinatorUrl } from '../api-client';
import { CliError, EXIT } from '../cli-error';
import {
  formatRunDetail,
  formatRunTable,
  formatWorkers,
  RunViewListSchema,
  RunViewSchema,
  WorkerViewListSchema,
  type RunView,
} from '../run-view';

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
        id ? getRun(client, id) : client.get('/runs', RunViewListSchema),
        client.get('/workers', WorkerViewListSchema),
      ]);
      // names come from whoever submitted a run: nothing they hold reaches the terminal raw
      if (opts.json) {
        // as JSON escapes (\uXXXX), so the JSON still decodes to the same strings
        const text = JSON.stringify(id ? { run: runs, workers } : { runs, workers }, null, 2);
        process.stdout.write(`${escapeNonPrintable(text)}\n`);
        return;
      }
      const [shownRuns, shownWorkers] = printable([runs, workers] as const);
      const body = Array.isArray(shownRuns) ? formatRunTable(shownRuns) : formatRunDetail(shownRuns as RunView);
      process.stdout.write(`${body}\n\n${formatWorkers(shownWorkers)}\n`);
    });
}

/** `value` (JSON data) with every string's non-printable characters written as `\uXXXX`. */
export function printable<T>(value: T): T {
  return JSON.parse(JSON.stringify(value), (_key, v: unknown) =>
    typeof v === 'string' ? escapeNonPrintable(v) : v,
  ) as T;
}

/** GET /runs/:id; a 404 is the user's typo, reported as such. */
export async function getRun(client: ApiClient, id: string): Promise<RunView> {
  try {
    return await client.get(`/runs/${encodeURIComponent(id)}`, RunViewSchema);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      throw new CliError(`no run ${JSON.stringify(id)} at ${client.baseUrl} (nnq status lists the runs)`, EXIT.usage);
    }
    throw err;
  }
}

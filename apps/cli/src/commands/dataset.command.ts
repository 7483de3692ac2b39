import {
  DataError,
  MAX_UPLOAD_CHARS,
  SourceError,
  formatBytes,
  parseUpload,
  readSourceFile,
  unconfinedAccess,
  uploadDataset,
  type DatasetUploadInput,
} from '@nnq/data';
import { DatasetSummarySchema } from '@nnq/protocol';
import type { Command } from 'commander';
import { extname } from 'node:path';
import type { z } from 'zod';
import { ApiClient, ApiError, coordinatorUrl } from '../api-client';
import { CliError, EXIT } from '../cli-error';

interface AddOptions {
  label?: string[];
  task: 'classification' | 'regression';
  format?: 'csv' | 'json' | 'ndjson';
  classes?: string;
  delimiter?: string;
  name?: string;
  json?: boolean;
}

/** What POST /datasets answers: the fields of the contract's DatasetSummary the CLI reads. */
const DatasetViewSchema = DatasetSummarySchema.pick({
  id: true,
  created: true,
  rows: true,
  features: true,
  task: true,
  classes: true,
});
type DatasetView = z.infer<typeof DatasetViewSchema>;

/** The coordinator's JSON body limit (main.ts): the upload's JSON must fit in it. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

/**
 * `nnq dataset add <file>`: upload a CSV, JSON or NDJSON file to the coordinator at NNQ_URL
 * (POST /datasets), which registers its rows under their content hash. A run config then names it
 * `"dataset": {"id": "<id>"}`: the way to train on a file that is not under the coordinator's
 * NNQ_DATA_ROOTS (or on another machine).
 */
export function registerDataset(program: Command): void {
  const dataset = program.command('dataset').description('datasets registered on the coordinator');
  dataset
    .command('add')
    .description('upload a CSV, JSON or NDJSON file to the coordinator at NNQ_URL; prints its dataset id')
    .argument('<file>', 'the data file (.csv, .tsv, .json, .ndjson or .jsonl)')
    .option('-l, --label <column...>', 'label column(s) (csv: header names; json: fields)')
    .option('--task <task>', 'classification or regression', parseTask, 'classification')
    .option('--format <format>', 'csv, json or ndjson (default: from the file extension)', parseFormat)
    .option('--classes <names>', 'comma-separated class order (classification)')
    .option('--delimiter <char>', 'csv field delimiter (default , and tab for .tsv)')
    .option('--name <name>', 'a name kept with the dataset')
    .option('--json', 'print the coordinator answer as JSON')
    .action(async (file: string, opts: AddOptions) => {
      const body = uploadBody(file, opts);
      const view = await upload(new ApiClient(coordinatorUrl()), body, file);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(view)}\n`);
        return;
      }
      const what = `${view.rows} rows, ${view.features} features, ${view.task}`;
      const classes = view.classes ? `, classes ${view.classes.join(', ')}` : '';
      process.stdout.write(
        `${view.created === false ? 'already registered' : 'registered'}: dataset ${view.id} (${what}${classes})\n` +
          `use it in a run config as "dataset": {"id": "${view.id}"}\n`,
      );
    });
}

/** Read the file and check it here, as the coordinator will: problems name the file, not `content`. */
export function uploadBody(file: string, opts: AddOptions): DatasetUploadInput {
  const format = opts.format ?? formatOf(file);
  let content: string;
  try {
    content = readSourceFile(file, unconfinedAccess(MAX_UPLOAD_CHARS)).toString('utf8');
  } catch (err) {
    if (err instanceof DataError) throw new CliError(err.message, EXIT.usage);
    throw err;
  }
  const body: DatasetUploadInput = {
    format,
    content,
    task: opts.task,
    ...(opts.label ? { labelColumns: opts.label } : {}),
    ...(opts.classes ? { classes: opts.classes.split(',').map((c) => c.trim()) } : {}),
    ...(opts.delimiter
      ? { delimiter: opts.delimiter }
      : format === 'csv' && extname(file) === '.tsv'
        ? { delimiter: '\t' }
        : {}),
    ...(opts.name ? { name: opts.name } : {}),
  };
  try {
    uploadDataset(parseUpload(body));
  } catch (err) {
    if (err instanceof SourceError) throw new CliError(`${file}: ${err.problems.map(option).join('; ')}`, EXIT.usage);
    // DataErrors name the upload's text `content`: say the file instead
    if (err instanceof DataError) throw new CliError(`${file}${err.message.slice(err.file.length)}`, EXIT.usage);
    throw err;
  }
  const bytes = Buffer.byteLength(JSON.stringify(body));
  if (bytes > MAX_BODY_BYTES) {
    throw new CliError(
      `${file}: ${formatBytes(bytes)} as JSON, more than an upload may be (${formatBytes(MAX_BODY_BYTES)}); ` +
        `put the file under the coordinator's NNQ_DATA_ROOTS and name it in the run config's dataset.source instead`,
      EXIT.usage,
    );
  }
  return body;
}

/** An upload problem by the option that sets it (`labelColumns: ...` -> `--label: ...`). */
function option(problem: string): string {
  return problem.replace(/^labelColumns/, '--label').replace(/^(task|format|classes|delimiter|name)\b/, '--$1');
}

async function upload(client: ApiClient, body: DatasetUploadInput, file: string): Promise<DatasetView> {
  try {
    return await client.post('/datasets', body, DatasetViewSchema);
  } catch (err) {
    if (err instanceof ApiError && err.status === 400) {
      const problems = err.problems.length ? err.problems : [err.message];
      throw new CliError(`${file}: the coordinator refused the dataset:\n  ${problems.join('\n  ')}`, EXIT.usage);
    }
    throw err;
  }
}

function formatOf(file: string): 'csv' | 'json' | 'ndjson' {
  const ext = extname(file).toLowerCase();
  if (ext === '.csv' || ext === '.tsv') return 'csv';
  if (ext === '.json') return 'json';
  if (ext === '.ndjson' || ext === '.jsonl') return 'ndjson';
  throw new CliError(
    `${file}: cannot tell the format from the extension; give --format csv, json or ndjson`,
    EXIT.usage,
  );
}

function parseTask(v: string): 'classification' | 'regression' {
  if (v !== 'classification' && v !== 'regression') {
    throw new CliError(`--task must be classification or regression, got ${JSON.stringify(v)}`, EXIT.usage);
  }
  return v;
}

function parseFormat(v: string): 'csv' | 'json' | 'ndjson' {
  if (v !== 'csv' && v !== 'json' && v !== 'ndjson') {
    throw new CliError(`--format must be csv, json or ndjson, got ${JSON.stringify(v)}`, EXIT.usage);
  }
  return v;
}

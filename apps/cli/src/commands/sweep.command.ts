import { SweepResultsSchema, SweepTrialSchema, SweepViewSchema as ContractSweepViewSchema } from '@nnq/protocol';
import type { Command } from 'commander';
import { ApiError } from '../api-client';
import { CliError, EXIT } from '../cli-error';
import { readTextFile } from '../config-file';
import { onCoordinator, type CoordinatorSession } from '../coordinator-session';
import { embeddedDataRoots } from '../embedded-roots';
import { sleep } from '../follow-run';
import { parseJsonText } from '../json-text';
import { writeModelFile } from '../model-output';
import { writeOutputFile } from '../output-file';
import { parsePositiveInt } from './up.command';
import { z } from 'zod';

interface SweepOptions {
  out?: string;
  csv?: string;
  json?: string;
  workers: number;
  verbose?: boolean;
}

/** A trial as GET /sweeps/:id shows it: the fields of the contract's SweepTrial the CLI reads. */
export const TrialViewSchema = SweepTrialSchema.pick({
  index: true,
  state: true,
  runId: true,
  params: true,
  best: true,
  step: true,
  totalSteps: true,
  stopReason: true,
  error: true,
});
export type TrialView = z.infer<typeof TrialViewSchema>;

/** A sweep as POST /sweeps and GET /sweeps/:id show it: the fields of the contract's SweepView the CLI reads. */
export const SweepViewSchema = ContractSweepViewSchema.pick({
  id: true,
  name: true,
  state: true,
  planned: true,
  objective: true,
  error: true,
}).extend({
  leaderboard: z.array(TrialViewSchema),
  best: z.object({ index: z.number(), runId: z.string().optional(), value: z.number() }).optional(),
});
export type SweepView = z.infer<typeof SweepViewSchema>;

const say = (line: string) => process.stdout.write(`${line}\n`);

function formatValue(v: unknown): string {
  if (typeof v === 'number') return String(Number(v.toPrecision(3)));
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** The leaderboard as aligned text lines: rank, trial, state, each parameter, best metric, steps. */
export function formatLeaderboard(sweep: SweepView, maxRows = 20): string[] {
  const paths = [...new Set(sweep.leaderboard.flatMap((t) => Object.keys(t.params)))];
  const metric = `${sweep.objective.split} ${sweep.objective.metric}`;
  const rows = [
    ['#', 'trial', 'state', ...paths, metric, 'steps'],
    ...sweep.leaderboard
      .slice(0, maxRows)
      .map((t, i) => [
        String(i + 1),
        `t${t.index}`,
        t.state,
        ...paths.map((p) => formatValue(t.params[p])),
        t.best === undefined ? '-' : t.best.toFixed(4),
        `${t.step}/${t.totalSteps || '?'}`,
      ]),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const lines = rows.map((r) =>
    r
      .map((cell, c) => cell.padEnd(widths[c]))
      .join('  ')
      .trimEnd(),
  );
  const more = sweep.leaderboard.length - maxRows;
  if (more > 0) lines.push(`... ${more} more`);
  const started = sweep.leaderboard.length;
  return [`sweep ${sweep.name} (${sweep.id}): ${sweep.state}, ${started}/${sweep.planned} trials started`, ...lines];
}

/** Lines to print when a trial's state changed since `before` (plain output, not a terminal). */
export function trialEvents(before: Map<number, string>, sweep: SweepView): string[] {
  const out: string[] = [];
  for (const t of [...sweep.leaderboard].sort((a, b) => a.index - b.index)) {
    if (before.get(t.index) === t.state) continue;
    before.set(t.index, t.state);
    const params = Object.entries(t.params)
      .map(([k, v]) => `${k}=${formatValue(v)}`)
      .join(' ');
    const best = t.best === undefined ? '' : ` best ${t.best.toFixed(4)}`;
    const why = t.stopReason ? ` (${t.stopReason})` : t.error ? ` (${t.error})` : '';
    out.push(`trial t${t.index} ${t.state} at step ${t.step}/${t.totalSteps || '?'}${best}: ${params}${why}`);
  }
  return out;
}

/**
 * `nnq sweep <config>`: validate the sweep here, run it on the coordinator at NNQ_URL or on an
 * embedded local cluster, show a live leaderboard, then export results and the best model.
 */
export function registerSweep(program: Command): void {
  program
    .command('sweep')
    .description('run a hyperparameter sweep: on the coordinator at NNQ_URL, else on an embedded local cluster')
    .argument('<config>', 'sweep config JSON file (see examples/sweep-*.json)')
    .option('-o, --out <path>', "where to write the best trial's model (default ./<sweep>-best-<run id>.safetensors)")
    .option('--csv <path>', 'write the leaderboard as CSV')
    .option('--json <path>', 'write the results as JSON')
    .option('-w, --workers <n>', 'workers of the embedded cluster', parsePositiveInt('--workers'), 2)
    .option('--verbose', "show the embedded cluster's logs")
    .action(async (file: string, opts: SweepOptions) => {
      const json = parseJsonText(readTextFile(file, 'sweep config'), file);
      const { parseSweepConfig, SweepConfigError } = await import('@nnq/sweeps');
      const { loadConfig } = await import('@nnq/config');
      const env = loadConfig();
      let dataRoots: Record<string, string>;
      try {
        // its trials are checked against the memory budgets the local coordinator would use
        const sweep = parseSweepConfig(json, {
          workerMb: env.NNQ_WORKER_MEMORY_MB,
          coordinatorMb: env.NNQ_COORDINATOR_MEMORY_MB,
        });
        dataRoots = embeddedDataRoots(sweep.base.dataset.source);
      } catch (err) {
        if (err instanceof SweepConfigError)
          throw new CliError(`${file}: invalid sweep config:\n  ${err.problems.join('\n  ')}`, EXIT.usage);
        throw err;
      }
      // the coordinator at NNQ_URL, or a local cluster: Ctrl-C as coordinator-session.ts says
      const session = {
        workers: opts.workers,
        token: env.NNQ_API_TOKEN,
        redisUrl: env.REDIS_URL,
        verbose: opts.verbose,
        // the files the base config names may be read by our own coordinator (NNQ_DATA_ROOTS)
        env: dataRoots,
        say,
      };
      const code = await onCoordinator(session, (s) => runSweep(s, json, file, opts));
      if (code !== EXIT.ok) throw new CliError('', code);
    });
}

/** Submit the sweep and show its leaderboard to its end; a first Ctrl-C stops (the session cancels on its cluster). */
async function runSweep(
  { client, embedded, signal, cancelOnInterrupt }: CoordinatorSession,
  json: unknown,
  file: string,
  opts: SweepOptions,
): Promise<number> {
  let sweep: SweepView;
  try {
    sweep = await client.post('/sweeps', json, SweepViewSchema);
  } catch (err) {
    if (err instanceof ApiError && err.status === 400) {
      const problems = err.problems.length ? err.problems : [err.message];
      throw new CliError(`${file}: the coordinator refused the sweep:\n  ${problems.join('\n  ')}`, EXIT.usage);
    }
    throw err;
  }
  const submitted = `/sweeps/${encodeURIComponent(sweep.id)}`;
  cancelOnInterrupt(`sweep ${sweep.id}`, () => client.post(`${submitted}/cancel`, undefined, SweepViewSchema));
  say(`sweep ${sweep.id} submitted to ${client.baseUrl}: ${sweep.planned} trials`);
  const tty = !!process.stdout.isTTY;
  const seen = new Map<number, string>();
  let drawn = 0;
  for (;;) {
    sweep = await client.get(`/sweeps/${encodeURIComponent(sweep.id)}`, SweepViewSchema);
    if (tty) {
      const lines = formatLeaderboard(sweep);
      // redraw in place: up to the first line of the last drawing, clear to the end of the screen
      process.stdout.write(`${drawn ? `\x1b[${drawn}F\x1b[J` : ''}${lines.join('\n')}\n`);
      drawn = lines.length;
    } else {
      for (const line of trialEvents(seen, sweep)) say(line);
    }
    if (sweep.state !== 'running') break;
    if (await sleep(tty ? 1000 : 2000, signal)) {
      // on the session's own cluster the session cancels the sweep and says so
      if (!embedded) say(`\ninterrupted: detached; sweep ${sweep.id} continues on ${client.baseUrl}`);
      return EXIT.interrupted;
    }
  }
  if (!tty) for (const line of formatLeaderboard(sweep)) say(line);
  const id = encodeURIComponent(sweep.id);
  if (opts.csv) {
    const csv = Buffer.from(await client.bytes(`/sweeps/${id}/results.csv`)).toString('utf8');
    say(`leaderboard written to ${writeOutputFile(opts.csv, csv)}`);
  }
  if (opts.json) {
    const results = await client.get(`/sweeps/${id}/results.json`, SweepResultsSchema);
    say(`results written to ${writeOutputFile(opts.json, `${JSON.stringify(results, null, 2)}\n`)}`);
  }
  if (sweep.best) {
    const { metric, split } = sweep.objective;
    say(
      `best: trial t${sweep.best.index} (run ${sweep.best.runId}), ${split} ${metric} ${sweep.best.value.toFixed(4)}`,
    );
    try {
      const bytes = await client.bytes(`/sweeps/${id}/model`);
      const path = writeModelFile(opts.out, `${sweep.name}-best`, sweep.best.runId ?? sweep.id, bytes);
      say(`model written to ${path} (${bytes.length} bytes)`);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw err;
      say(`no model: ${err.message}`);
    }
  }
  if (sweep.state === 'failed') say(`sweep failed: ${sweep.error ?? 'see the trials'}`);
  return sweep.state === 'completed' ? EXIT.ok : sweep.state === 'cancelled' ? EXIT.interrupted : EXIT.failed;
}

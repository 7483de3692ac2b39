import { ApiClient, UnreachableError } from './api-client';
import type { ProgressRenderer } from './progress-renderer';
import { isTerminal } from '@nnq/protocol';
import { formatEvaluation, RunViewSchema, type RunView } from './run-view';

export interface FollowOptions {
  /** Poll period of GET /runs/:id. */
  intervalMs?: number;
  /** Stops following (Ctrl-C); followRun then resolves with the last state it saw. */
  signal?: AbortSignal;
  /** How long the coordinator may be unreachable before we give up (a restarted one resumes runs). */
  tolerateMs?: number;
  /** Show accuracy in evaluation notes. */
  accuracy?: boolean;
}

export interface FollowResult {
  run: RunView;
  /** True when `signal` stopped us before the run ended. */
  detached: boolean;
}

/** Poll a run until it ends, drawing progress and noting each new validation result. */
export async function followRun(
  client: ApiClient,
  id: string,
  renderer: ProgressRenderer,
  options: FollowOptions = {},
): Promise<FollowResult> {
  const { intervalMs = 500, signal, tolerateMs = 30_000 } = options;
  const path = `/runs/${encodeURIComponent(id)}`;
  let last: RunView | undefined;
  let noted = '';
  let unreachableSince: number | undefined;
  for (;;) {
    let run: RunView;
    try {
      run = await client.get(path, RunViewSchema);
      if (unreachableSince !== undefined) renderer.note(`coordinator at ${client.baseUrl} answers again`);
      unreachableSince = undefined;
    } catch (err) {
      if (!(err instanceof UnreachableError) || !last) throw err;
      if (unreachableSince === undefined) {
        unreachableSince = Date.now();
        renderer.note(`coordinator at ${client.baseUrl} does not answer; retrying for ${tolerateMs / 1000} s`);
      } else if (Date.now() - unreachableSince > tolerateMs) throw err;
      if (await sleep(intervalMs, signal)) return { run: last, detached: true };
      continue;
    }
    last = run;
    if (isTerminal(run.state)) {
      renderer.finish(run);
      return { run, detached: false };
    }
    renderer.update(run);
    const v = run.validation;
    if (v && `${v.step}` !== noted) {
      noted = `${v.step}`;
      renderer.note(formatEvaluation(v, options.accuracy), true);
    }
    if (await sleep(intervalMs, signal)) {
      renderer.finish(run);
      return { run, detached: true };
    }
  }
}

/** Sleep; resolves true when `signal` aborted (now or during the sleep). */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (aborted: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(aborted);
    };
    const onAbort = () => done(true);
    const timer = setTimeout(() => done(false), ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

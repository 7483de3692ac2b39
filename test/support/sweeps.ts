import { getJson, until } from './processes';

/** Waits until sweep `id` is no longer running; resolves with its view (T) at that moment. */
export function waitForSweep<T extends { state: string }>(base: string, id: string, timeoutMs: number): Promise<T> {
  return until(
    async () => {
      const s = await getJson<T>(`${base}/sweeps/${id}`);
      return s.state !== 'running' && s;
    },
    timeoutMs,
    'the sweep to end',
  );
}

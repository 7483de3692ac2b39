import { readModel } from '@nnq/nn';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getJson, until } from './processes';

export interface RunView {
  id: string;
  state: string;
  step: number;
  totalSteps: number;
  loss?: number;
  validation?: { accuracy: number; loss: number };
  test?: { accuracy: number; loss: number };
  error?: { reason: string; step: number };
}

export const exampleConfig = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(__dirname, '..', '..', 'examples', name), 'utf8')) as Record<string, unknown>;

export async function submitRun(base: string, config: unknown): Promise<RunView> {
  const res = await fetch(`${base}/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(config),
  });
  if (res.status !== 201) throw new Error(`POST /runs: ${res.status} ${await res.text()}`);
  return (await res.json()) as RunView;
}

export async function waitForRun(base: string, id: string, timeoutMs = 120_000): Promise<RunView> {
  return until(
    async () => {
      const r = await getJson<RunView>(`${base}/runs/${id}`);
      return ['completed', 'failed', 'cancelled'].includes(r.state) && r;
    },
    timeoutMs,
    `run ${id} to end`,
  );
}

/** The flat parameters of a run's model file, as bytes (bitwise comparisons). */
export async function modelParams(base: string, id: string): Promise<Buffer> {
  const res = await fetch(`${base}/runs/${id}/model`);
  if (!res.ok) throw new Error(`GET /runs/${id}/model: ${res.status}`);
  const m = readModel(new Uint8Array(await res.arrayBuffer()));
  return Buffer.from(m.params.buffer, m.params.byteOffset, m.params.byteLength);
}

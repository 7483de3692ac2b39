import { readModel } from '@nnq/nn';
import { isTerminal, parseAnswer, RunRecordSchema, type RunRecord } from '@nnq/protocol';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getJson, until } from './processes';

/** A run as the coordinator answers it: the HTTP contract's RunRecord (@nnq/protocol). */
export type RunView = RunRecord;

export const exampleConfig = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(__dirname, '..', '..', 'examples', name), 'utf8')) as Record<string, unknown>;

export async function submitRun(base: string, config: unknown): Promise<RunView> {
  const res = await fetch(`${base}/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(config),
  });
  if (res.status !== 201) throw new Error(`POST /runs: ${res.status} ${await res.text()}`);
  return parseAnswer(RunRecordSchema, await res.json(), 'POST /runs');
}

export async function waitForRun(base: string, id: string, timeoutMs = 120_000): Promise<RunView> {
  return until(
    async () => {
      // every answer is checked against the contract: a field the coordinator gets wrong fails the test
      const r = parseAnswer(RunRecordSchema, await getJson(`${base}/runs/${id}`), `GET /runs/${id}`);
      return isTerminal(r.state) && r;
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

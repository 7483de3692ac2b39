import type { SweepView } from '@nnq/protocol';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TestCluster } from './support/cluster';
import { getJson, until } from './support/processes';
import { exampleConfig } from './support/runs';
import { startWithWorkers } from './support/worker-pool';

// TPE with maxConcurrent 2 on a shared pool: two copies of one sweep run side by side, so their
// trials finish in whatever order the workers give them, and still propose the same trials
// (libs/sweeps proposal.ts: trial k learns from trials 0..k-2 only, once they have ended).
const C = 2;
const sweep = (name: string) => ({
  name,
  seed: 21,
  base: {
    ...exampleConfig('spirals.json'),
    dataset: {
      source: { type: 'synthetic', name: 'spirals', n: 400, seed: 1, noise: 0.05, turns: 1.5 },
      validation: 0.2,
      test: 0,
      preprocessing: { standardize: true },
    },
    epochs: 2,
  },
  space: {
    'optimizer.lr': { type: 'loguniform', min: 0.001, max: 0.3 },
    'model.layers[0].units': { type: 'int', min: 4, max: 64 },
  },
  method: { type: 'tpe', startupTrials: 2, gamma: 0.25, candidates: 24 },
  objective: { metric: 'loss', split: 'validation', mode: 'min' },
  budget: { maxTrials: 6, maxConcurrent: C },
  scheduler: { type: 'none' },
});

describe('TPE with maxConcurrent > 1', () => {
  const cluster = new TestCluster(inject('redisUrl'), 'tpe');

  beforeAll(async () => {
    await startWithWorkers(cluster, 2);
  });
  afterAll(() => cluster.stop());

  it('gives two copies of one sweep run side by side the same trials, each k after trials <= k - C', async () => {
    const ids: string[] = [];
    for (const name of ['tpe-a', 'tpe-b']) {
      const res = await fetch(`${cluster.base}/sweeps`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(sweep(name)),
      });
      expect(res.status).toBe(201);
      ids.push(((await res.json()) as SweepView).id);
    }
    const done = await until(
      async () => {
        const all = await Promise.all(ids.map((id) => getJson<SweepView>(`${cluster.base}/sweeps/${id}`)));
        return all.every((s) => s.state !== 'running') && all;
      },
      240_000,
      'both sweeps to end',
    );
    for (const s of done) {
      expect([s.state, s.trials.map((t) => t.state)]).toEqual(['completed', Array(6).fill('completed')]);
      // past the random start-up, trial k was proposed only after trials 0..k-C had ended
      for (const t of s.trials.slice(2)) {
        for (const earlier of s.trials.slice(0, t.index - C + 1))
          expect(Date.parse(t.createdAt) >= Date.parse(earlier.finishedAt!), `trial ${t.index}`).toBe(true);
      }
    }
    expect(done[1].trials.map((t) => t.params)).toEqual(done[0].trials.map((t) => t.params));
    expect(done[1].trials.map((t) => t.best)).toEqual(done[0].trials.map((t) => t.best));
  }, 300_000);
});

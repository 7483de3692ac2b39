import type { TestCluster } from './cluster';
import { getJson, until } from './processes';
import type { RunView } from './runs';

/**
 * Up to `most` SIGKILLs, a step or more apart (and up to `jitterMs` into the step) while run `id`
 * goes on, none once it reaches step `lastAt`: a worker (replaced) and the coordinator (restarted)
 * in turn. Resolves with how many.
 */
export async function killInTurn(
  cluster: TestCluster,
  id: string,
  lastAt: number,
  { most = 8, jitterMs = 100 } = {},
): Promise<number> {
  const step = async () => (await getJson<RunView>(`${cluster.base}/runs/${id}`)).step;
  let kills = 0;
  while (kills < most) {
    const at = await step();
    if (at >= lastAt) break;
    await until(async () => (await step()) >= at + 1, 60_000, 'progress');
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * jitterMs)));
    if (kills % 2 === 0) {
      await cluster.kill(cluster.workers[kills % cluster.workers.length]);
      await cluster.addWorker();
    } else {
      await cluster.kill(cluster.coordinator!);
      await cluster.startCoordinator();
    }
    kills++;
  }
  return kills;
}

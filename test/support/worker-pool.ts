import type { TestCluster } from './cluster';

/** Starts the cluster's coordinator, then `workers` workers one after another; resolves once it lists them all. */
export async function startWithWorkers(cluster: TestCluster, workers: number): Promise<void> {
  await cluster.startCoordinator();
  for (let i = 0; i < workers; i++) await cluster.addWorker();
  await cluster.waitForWorkers(workers);
}

import { startRedisServer } from '@nnq/launch';
import { cluster, inProcess } from '../cluster/measure';

/** Real workers on Fashion-MNIST (784-256-128-10, Adam, batch 1024, 2 shards) against the in-process trainer. */
export interface RealRow {
  variant: 'in-process' | '1 worker' | '2 workers';
  samplesPerSecond: number;
  vsInProcess: number;
}

const STEPS = 16;
const BATCH = 1024;

export async function realWorkers(): Promise<RealRow[]> {
  const server = await startRedisServer();
  try {
    // the same measurements as bench/cluster
    const local = (await inProcess(BATCH, STEPS)).samplesPerSecond;
    const one = (await cluster(BATCH, 1, server.url, STEPS)).samplesPerSecond;
    const two = (await cluster(BATCH, 2, server.url, STEPS)).samplesPerSecond;
    return [
      { variant: 'in-process', samplesPerSecond: local, vsInProcess: 1 },
      { variant: '1 worker', samplesPerSecond: one, vsInProcess: one / local },
      { variant: '2 workers', samplesPerSecond: two, vsInProcess: two / local },
    ];
  } finally {
    await server.stop();
  }
}

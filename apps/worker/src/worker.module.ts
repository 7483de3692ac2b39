import { Module } from '@nestjs/common';
import { ClusterCoreModule, nnqVersion, type NnqConfig } from '@nnq/cluster';
import { HeartbeatService, newWorkerId } from './heartbeat.service';
import { WORKER_IDENTITY, type WorkerIdentity } from './worker-identity';

@Module({})
export class WorkerModule {
  static forRoot(config: NnqConfig) {
    const identity: WorkerIdentity = { id: newWorkerId(), version: nnqVersion(), engine: () => config.NNQ_ENGINE };
    return {
      module: WorkerModule,
      imports: [ClusterCoreModule.forRoot({ app: 'worker', config })],
      providers: [{ provide: WORKER_IDENTITY, useValue: identity }, HeartbeatService],
    };
  }
}

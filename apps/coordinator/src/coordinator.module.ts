import { Module, type DynamicModule } from '@nestjs/common';
import { ClusterCoreModule, type NnqConfig } from '@nnq/cluster';
import { WorkersController } from './workers/workers.controller';
import { WorkersService } from './workers/workers.service';

@Module({})
export class CoordinatorModule {
  static forRoot(config: NnqConfig): DynamicModule {
    return {
      module: CoordinatorModule,
      imports: [ClusterCoreModule.forRoot({ app: 'coordinator', config })],
      controllers: [WorkersController],
      providers: [WorkersService],
    };
  }
}

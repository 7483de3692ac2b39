import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { answerJsonSchema, WorkerListSchema, type WorkerInfo } from '@nnq/protocol';
import { WorkersService } from './workers.service';

@ApiTags('workers')
@Controller('workers')
export class WorkersController {
  constructor(private readonly workers: WorkersService) {}

  /** Live workers: host, pid, concurrency, version, engine, last seen. */
  @Get()
  @ApiOkResponse({ description: 'Workers whose heartbeat has not expired', schema: answerJsonSchema(WorkerListSchema) })
  list(): Promise<WorkerInfo[]> {
    return this.workers.list();
  }
}

import {
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  Post,
  StreamableFile,
} from '@nestjs/common';
import { ApiBadRequestResponse, ApiBody, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import {
  answerJsonSchema,
  ErrorBodySchema,
  SweepListSchema,
  SweepResultsSchema,
  SweepViewSchema,
  type SweepResults,
  type SweepSummary,
  type SweepView,
} from '@nnq/protocol';
import { pathId } from '../http/request-checks';
import { sweepConfigJsonSchema } from '@nnq/sweeps';
import { modelOnnx } from '../runs/model-onnx';
import { RUN_BLOBS, type RunBlobs } from '../runs/run-blobs';
import { sweepCsv, sweepResults } from './sweep-export';
import { SweepsService } from './sweeps.service';

@ApiTags('sweeps')
@Controller('sweeps')
export class SweepsController {
  constructor(
    private readonly sweeps: SweepsService,
    @Inject(RUN_BLOBS) private readonly blobs: RunBlobs,
  ) {}

  /** Submit a sweep; 400 lists every problem of the config by path. */
  @Post()
  @ApiBody({ schema: sweepConfigJsonSchema() as object, description: 'A sweep config' })
  @ApiCreatedResponse({ description: 'The new sweep, with its id', schema: answerJsonSchema(SweepViewSchema) })
  @ApiBadRequestResponse({
    description: 'Every problem of the config by path',
    schema: answerJsonSchema(ErrorBodySchema),
  })
  submit(@Body() body: unknown): Promise<SweepView> {
    return this.sweeps.submit(body);
  }

  @Get()
  @ApiOkResponse({ description: 'Every sweep, without its trials', schema: answerJsonSchema(SweepListSchema) })
  list(): Promise<SweepSummary[]> {
    return this.sweeps.list();
  }

  /** The sweep and its leaderboard: trials sorted by the objective with parameters, state, best metric, step. */
  @Get(':id')
  @ApiOkResponse({ description: 'The sweep and its leaderboard', schema: answerJsonSchema(SweepViewSchema) })
  get(@Param('id') id: string): Promise<SweepView> {
    return this.sweeps.get(pathId('sweep', id));
  }

  @Get(':id/results.csv')
  @Header('content-type', 'text/csv; charset=utf-8')
  async csv(@Param('id') id: string): Promise<string> {
    return sweepCsv(await this.sweeps.get(pathId('sweep', id)));
  }

  @Get(':id/results.json')
  @ApiOkResponse({ description: 'The sweep and its ranked trials', schema: answerJsonSchema(SweepResultsSchema) })
  async json(@Param('id') id: string): Promise<SweepResults> {
    return sweepResults(await this.sweeps.get(pathId('sweep', id)));
  }

  /** The model file of the best trial that has one (a completed run). */
  @Get(':id/model')
  async model(@Param('id') id: string): Promise<StreamableFile> {
    const best = await this.bestModel(id);
    return new StreamableFile(best.bytes, {
      type: 'application/octet-stream',
      disposition: `attachment; filename="${best.name}.safetensors"`,
    });
  }

  /** The best trial's model as ONNX (as GET /runs/:id/model.onnx of its run). */
  @Get(':id/model.onnx')
  async modelOnnx(@Param('id') id: string): Promise<StreamableFile> {
    const best = await this.bestModel(id);
    return new StreamableFile(modelOnnx(best.bytes, best.runId), {
      type: 'application/octet-stream',
      disposition: `attachment; filename="${best.name}.onnx"`,
    });
  }

  /** The model of the best-ranked trial that has one, and a file name for it. */
  private async bestModel(id: string): Promise<{ bytes: Buffer; runId: string; name: string }> {
    const sweep = await this.sweeps.get(pathId('sweep', id));
    for (const t of sweep.leaderboard) {
      if (t.best === undefined || !t.runId) continue;
      const bytes = await this.blobs.model(t.runId);
      if (bytes) return { bytes, runId: t.runId, name: `${sweep.name}-t${t.index}-${t.runId}` };
    }
    throw new NotFoundException(`sweep ${sweep.id} has no trial with a model yet (state ${sweep.state})`);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOkResponse({ description: 'The sweep, cancelled (or as it ended)', schema: answerJsonSchema(SweepViewSchema) })
  cancel(@Param('id') id: string): Promise<SweepView> {
    return this.sweeps.cancel(pathId('sweep', id));
  }
}

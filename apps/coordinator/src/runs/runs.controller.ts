import {
  BadRequestException,
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  NotFoundException,
  Param,
  Post,
  StreamableFile,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { readModel } from '@nnq/nn';
import { formatJobIssues, ID_PATTERN } from '@nnq/protocol';
import { PredictRequestSchema, predictRows, runConfigJsonSchema, type Prediction } from '@nnq/training';
import { existsSync, readFileSync } from 'node:fs';
import { modelPath } from './run-driver';
import type { HistoryEntry, RunRecord } from './run-record';
import { RunsService } from './runs.service';
import { Inject } from '@nestjs/common';
import { NNQ_CONFIG, type NnqConfig } from '@nnq/cluster';

function runId(id: string): string {
  if (!ID_PATTERN.test(id)) throw new NotFoundException(`no run with id ${JSON.stringify(id.slice(0, 80))}`);
  return id;
}

/** Only JSON bodies are parsed: any other body reaches a handler as undefined. */
function jsonBody(body: unknown, contentType: string | undefined): unknown {
  if (body === undefined)
    throw new UnsupportedMediaTypeException(
      `the request body must be JSON (content-type: application/json), got ${contentType ?? 'no content-type'}`,
    );
  return body;
}

@ApiTags('runs')
@Controller('runs')
export class RunsController {
  constructor(
    private readonly runs: RunsService,
    @Inject(NNQ_CONFIG) private readonly config: NnqConfig,
  ) {}

  /** Submit a run; 400 lists every problem of the config by path. */
  @Post()
  @ApiBody({ schema: runConfigJsonSchema() as object, description: 'A run config' })
  @ApiOkResponse({ description: 'The new run, with its id' })
  submit(@Body() body: unknown, @Headers('content-type') contentType?: string): Promise<RunRecord> {
    return this.runs.submit(jsonBody(body, contentType));
  }

  @Get()
  list(): Promise<RunRecord[]> {
    return this.runs.list();
  }

  /** State, step, epoch, loss, accuracy, samples/s and ETA. */
  @Get(':id')
  get(@Param('id') id: string): Promise<RunRecord> {
    return this.runs.get(runId(id));
  }

  /** Loss and metrics per step and per evaluation. */
  @Get(':id/history')
  history(@Param('id') id: string): Promise<HistoryEntry[]> {
    return this.runs.history(runId(id));
  }

  @Post(':id/cancel')
  @HttpCode(200)
  cancel(@Param('id') id: string): Promise<RunRecord> {
    return this.runs.cancel(runId(id));
  }

  /** The model file (safetensors: spec, preprocessing and weights) of a finished run. */
  @Get(':id/model')
  async model(@Param('id') id: string): Promise<StreamableFile> {
    const run = await this.runs.get(runId(id));
    const path = modelPath(this.config.NNQ_DATA_DIR, id);
    if (!existsSync(path)) throw new NotFoundException(`run ${id} has no model yet (state ${run.state})`);
    return new StreamableFile(readFileSync(path), {
      type: 'application/octet-stream',
      disposition: `attachment; filename="${id}.safetensors"`,
    });
  }

  /** Predict rows with the run's model (the final one, or the last good one of a failed run). */
  @Post(':id/predict')
  @HttpCode(200)
  async predict(
    @Param('id') id: string,
    @Body() body: unknown,
    @Headers('content-type') contentType?: string,
  ): Promise<Prediction> {
    await this.runs.get(runId(id));
    const req = PredictRequestSchema.safeParse(jsonBody(body, contentType));
    if (!req.success)
      throw new BadRequestException({
        message: 'invalid predict request',
        problems: formatJobIssues(req.error.issues),
      });
    const path = modelPath(this.config.NNQ_DATA_DIR, id);
    if (!existsSync(path)) throw new NotFoundException(`run ${id} has no model yet`);
    try {
      return predictRows(readModel(readFileSync(path)), req.data.inputs);
    } catch (err) {
      if (err instanceof RangeError)
        throw new BadRequestException({ message: 'invalid predict request', problems: [err.message] });
      throw err;
    }
  }
}

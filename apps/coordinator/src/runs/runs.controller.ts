import {
  BadRequestException,
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  Post,
  StreamableFile,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import { readModel } from '@nnq/nn';
import {
  answerJsonSchema,
  ErrorBodySchema,
  formatJobIssues,
  requestJsonSchema,
  HistorySchema,
  PredictionSchema,
  PredictRequestSchema,
  RunListSchema,
  RunRecordSchema,
  type HistoryEntry,
  type Prediction,
  type RunRecord,
} from '@nnq/protocol';
import { predictRows, runConfigJsonSchema } from '@nnq/training';
import { modelOnnx } from './model-onnx';
import { RUN_BLOBS, type RunBlobs } from './run-blobs';
import { RunRemoval } from './run-removal.service';
import { RunsService } from './runs.service';
import { pathId } from '../http/request-checks';
import { Inject } from '@nestjs/common';

/** The error body of a refused request (400 lists the problems by path). */
const ERROR = answerJsonSchema(ErrorBodySchema);

@ApiTags('runs')
@Controller('runs')
export class RunsController {
  constructor(
    private readonly runs: RunsService,
    private readonly removal: RunRemoval,
    @Inject(RUN_BLOBS) private readonly blobs: RunBlobs,
  ) {}

  /** Submit a run; 400 lists every problem of the config by path. */
  @Post()
  @ApiBody({ schema: runConfigJsonSchema() as object, description: 'A run config' })
  @ApiCreatedResponse({ description: 'The new run, with its id', schema: answerJsonSchema(RunRecordSchema) })
  @ApiBadRequestResponse({ description: 'Every problem of the config by path', schema: ERROR })
  submit(@Body() body: unknown): Promise<RunRecord> {
    return this.runs.submit(body);
  }

  @Get()
  @ApiOkResponse({ description: 'Every run, newest first', schema: answerJsonSchema(RunListSchema) })
  list(): Promise<RunRecord[]> {
    return this.runs.list();
  }

  /** State, step, epoch, loss, accuracy, samples/s and ETA. */
  @Get(':id')
  @ApiOkResponse({ description: 'The run', schema: answerJsonSchema(RunRecordSchema) })
  @ApiNotFoundResponse({ description: 'No run with this id', schema: ERROR })
  get(@Param('id') id: string): Promise<RunRecord> {
    return this.runs.get(pathId('run', id));
  }

  /** Loss and metrics per step and per evaluation. */
  @Get(':id/history')
  @ApiOkResponse({ description: 'Step and evaluation lines, oldest first', schema: answerJsonSchema(HistorySchema) })
  history(@Param('id') id: string): Promise<HistoryEntry[]> {
    return this.runs.history(pathId('run', id));
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOkResponse({ description: 'The run, cancelled (or as it ended)', schema: answerJsonSchema(RunRecordSchema) })
  cancel(@Param('id') id: string): Promise<RunRecord> {
    return this.runs.cancel(pathId('run', id));
  }

  /** Remove a finished run and all it stored (record, history, model, checkpoint); 409 while it runs. */
  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Removed, with its record, history, model, checkpoint, keys and jobs' })
  @ApiConflictResponse({ description: 'The run is queued or running: cancel it first' })
  @ApiNotFoundResponse({ description: 'No run with this id' })
  remove(@Param('id') id: string): Promise<void> {
    return this.removal.remove(pathId('run', id));
  }

  /** The model file (safetensors: spec, preprocessing and weights) of a finished run. */
  @Get(':id/model')
  async model(@Param('id') id: string): Promise<StreamableFile> {
    const run = await this.runs.get(pathId('run', id));
    const bytes = await this.blobs.model(run.id);
    if (!bytes) throw new NotFoundException(`run ${id} has no model yet (state ${run.state})`);
    return new StreamableFile(bytes, {
      type: 'application/octet-stream',
      disposition: `attachment; filename="${id}.safetensors"`,
    });
  }

  /**
   * The model as ONNX (the run's preprocessing folded in, documented input and output, metadata:
   * nnq version, run id, spec), for onnxruntime and other runtimes outside nnq.
   */
  @Get(':id/model.onnx')
  @ApiOkResponse({ description: 'ONNX model: input "input" [batch, features] of raw rows, output "output"' })
  @ApiNotFoundResponse({ description: 'No run with this id, or no model yet' })
  async modelOnnx(@Param('id') id: string): Promise<StreamableFile> {
    const run = await this.runs.get(pathId('run', id));
    const bytes = await this.blobs.model(run.id);
    if (!bytes) throw new NotFoundException(`run ${id} has no model yet (state ${run.state})`);
    return new StreamableFile(modelOnnx(bytes, run.id), {
      type: 'application/octet-stream',
      disposition: `attachment; filename="${run.id}.onnx"`,
    });
  }

  /** Predict rows with the run's model (the final one, or the last good one of a failed run). */
  @Post(':id/predict')
  @HttpCode(200)
  @ApiBody({ schema: requestJsonSchema(PredictRequestSchema), description: 'Rows of raw features' })
  @ApiOkResponse({ description: 'Outputs per row, and class names', schema: answerJsonSchema(PredictionSchema) })
  @ApiBadRequestResponse({ description: 'Every problem of the rows by path', schema: ERROR })
  async predict(@Param('id') id: string, @Body() body: unknown): Promise<Prediction> {
    const run = await this.runs.get(pathId('run', id));
    const req = PredictRequestSchema.safeParse(body);
    if (!req.success)
      throw new BadRequestException({
        message: 'invalid predict request',
        problems: formatJobIssues(req.error.issues),
      });
    const bytes = await this.blobs.model(run.id);
    if (!bytes) throw new NotFoundException(`run ${id} has no model yet`);
    try {
      return predictRows(readModel(bytes), req.data.inputs);
    } catch (err) {
      if (err instanceof RangeError)
        throw new BadRequestException({ message: 'invalid predict request', problems: [err.message] });
      throw err;
    }
  }
}

import { Body, Controller, Get, Param, Post } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBody, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { datasetUploadJsonSchema } from '@nnq/data';
import {
  answerJsonSchema,
  DatasetListSchema,
  DatasetSummarySchema,
  ErrorBodySchema,
  type DatasetSummary,
} from '@nnq/protocol';
import { DatasetsService } from './datasets.service';

const UPLOAD_EXAMPLE = {
  format: 'csv',
  content: 'x1,x2,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n',
  labelColumns: ['y'],
  task: 'classification',
  name: 'xor',
};

@ApiTags('datasets')
@Controller('datasets')
export class DatasetsController {
  constructor(private readonly datasets: DatasetsService) {}

  /**
   * Register a dataset by upload: a JSON body `{format, content, labelColumns?, task?, classes?,
   * delimiter?, name?}` (csv, json or ndjson text in `content`). Answers its content-hash `id`, which
   * a run config names as `dataset: {id}`; the same rows give the same id.
   */
  @Post()
  @ApiBody({ schema: { ...datasetUploadJsonSchema(), example: UPLOAD_EXAMPLE }, description: 'A dataset upload' })
  @ApiCreatedResponse({
    description: 'The registered dataset: id, rows, features, task, classes',
    schema: answerJsonSchema(DatasetSummarySchema),
  })
  @ApiBadRequestResponse({ description: 'Every problem of the upload', schema: answerJsonSchema(ErrorBodySchema) })
  upload(@Body() body: unknown): Promise<DatasetSummary> {
    return this.datasets.upload(body);
  }

  @Get()
  @ApiOkResponse({ description: 'Every registered dataset', schema: answerJsonSchema(DatasetListSchema) })
  list(): Promise<DatasetSummary[]> {
    return this.datasets.list();
  }

  @Get(':id')
  @ApiOkResponse({ description: 'The dataset', schema: answerJsonSchema(DatasetSummarySchema) })
  get(@Param('id') id: string): Promise<DatasetSummary> {
    return this.datasets.get(id);
  }
}

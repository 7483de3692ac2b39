import { Body, Controller, Get, Param, Post } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { datasetUploadJsonSchema } from '@nnq/data';
import { DatasetsService, type DatasetSummary } from './datasets.service';

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
  @ApiOkResponse({ description: 'The registered dataset: id, rows, features, task, classes' })
  upload(@Body() body: unknown): Promise<DatasetSummary> {
    return this.datasets.upload(body);
  }

  @Get()
  list(): Promise<DatasetSummary[]> {
    return this.datasets.list();
  }

  @Get(':id')
  get(@Param('id') id: string): Promise<DatasetSummary> {
    return this.datasets.get(id);
  }
}

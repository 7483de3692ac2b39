import { NameSchema } from '@nnq/protocol';
import { z } from 'zod';
import { parseCsv } from './csv';
import { assertDataset, type Dataset } from './dataset';
import { SourceError, formatIssues } from './errors';
import { sha256 } from './hash';
import { parseJsonDataset } from './json';
import type { UploadSource } from './source';

/**
 * A dataset sent as text to POST /datasets (a JSON body, so the upload needs no content type of its
 * own): the same formats and options as a csv or json file source, the file's text in `content`.
 * The rows are registered in Redis under their content hash; run configs name them by that id.
 */

/** Longest `content` accepted, in UTF-16 code units (the JSON body limit bounds it too). */
export const MAX_UPLOAD_CHARS = 16 * 1024 * 1024;

export const DatasetUploadSchema = z
  .object({
    /** csv (a header row), json (records or {"x", "y"}) or ndjson (one record per line). */
    format: z.enum(['csv', 'json', 'ndjson']),
    /** The file's text. */
    content: z
      .string()
      .min(1, 'must not be empty')
      .max(MAX_UPLOAD_CHARS, `must be at most ${MAX_UPLOAD_CHARS} characters`),
    /** Target column(s) (csv: by header name; json: by field); optional for json {"x", "y"}. */
    labelColumns: z.array(z.string().min(1, 'must not be empty')).min(1, 'must name at least one column').optional(),
    task: z.enum(['classification', 'regression']).default('classification'),
    classes: z.array(z.string()).min(1, 'must name at least one class').optional(),
    /** csv only. */
    delimiter: z.string().length(1, 'must be one character').optional(),
    /** Free-form name kept with the dataset (not part of its id). */
    name: NameSchema.optional(),
  })
  .strict()
  .superRefine((u, ctx) => {
    if (u.format === 'csv' && !u.labelColumns) {
      ctx.addIssue({ code: 'custom', path: ['labelColumns'], message: 'csv needs the label column(s) by header name' });
    }
    if (u.format !== 'csv' && u.delimiter !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['delimiter'], message: 'applies to csv only' });
    }
  });

export type DatasetUploadInput = z.input<typeof DatasetUploadSchema>;
export type DatasetUpload = z.output<typeof DatasetUploadSchema>;

/** JSON Schema (draft 2020-12) of an upload request, for the OpenAPI page. */
export function datasetUploadJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(DatasetUploadSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}

/** Validate an upload request; throws SourceError naming every problem by path. */
export function parseUpload(json: unknown): DatasetUpload {
  const r = DatasetUploadSchema.safeParse(json);
  if (!r.success) throw new SourceError(formatIssues(r.error.issues), 'dataset upload');
  return r.data;
}

/**
 * Parse an upload's text into a dataset. Errors are DataErrors on the file `content`, e.g.
 * `content:3:7: non-numeric cell "abc" in column "x2"`.
 */
export function uploadDataset(u: DatasetUpload): Dataset {
  const text = u.content;
  const file = 'content';
  const common = { task: u.task, ...(u.classes ? { classes: u.classes } : {}) };
  const d =
    u.format === 'csv'
      ? parseCsv(text, {
          type: 'csv',
          path: file,
          delimiter: u.delimiter ?? ',',
          labelColumns: u.labelColumns!,
          ...common,
        })
      : parseJsonDataset(text, {
          type: 'json',
          path: file,
          format: u.format,
          ...(u.labelColumns ? { labelColumns: u.labelColumns } : {}),
          ...common,
        });
  const bytes = Buffer.from(text, 'utf8');
  const source: UploadSource = { type: 'upload', format: u.format, sha256: sha256(bytes), bytes: bytes.length };
  const uploaded = { ...d, source };
  assertDataset(uploaded);
  return uploaded;
}

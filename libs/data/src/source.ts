import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { SourceError, formatIssues } from './errors';

/**
 * `DatasetSource`: plain JSON saying where a dataset comes from; embedded in run configs and
 * stored in dataset metadata. Discriminated on `type`.
 */

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** Class names of Fashion-MNIST, by label value 0..9. */
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

/** Most feature values a synthetic set may hold (256 MB of float32). */
export const MAX_SYNTHETIC_VALUES = 1 << 26;

const count = z.number().int('must be an integer').min(1, 'must be at least 1').max(10_000_000, 'must be at most 1e7');
const seed = z.number().int('must be an integer').min(0, 'must be at least 0').max(0xffffffff, 'must fit in 32 bits');
const noise = z.number().min(0, 'must be at least 0').max(100, 'must be at most 100');
const path = z.string().min(1, 'must not be empty');
const task = z.enum(['classification', 'regression']);
const classList = z.array(z.string()).min(1, 'must name at least one class');

const synthetic = {
  type: z.literal('synthetic'),
  /** Number of rows. */
  n: count,
  seed: seed.default(0),
  /** Standard deviation of Gaussian noise added to the inputs (sine: to the target). */
  noise: noise.default(0),
};

/** Classification sets may ask for `regression`: one numeric target, the class index. */
const syntheticTask = task.default('classification');

export const SyntheticSourceSchema = z.discriminatedUnion('name', [
  /** The four corners of the unit square (row i takes corner i mod 4), target x1 XOR x2. */
  z.object({ ...synthetic, name: z.literal('xor'), n: count.default(4), task: syntheticTask }).strict(),
  /** y = amplitude * sin(frequency * x) + noise, x on an evenly spaced grid over [min, max]. */
  z
    .object({
      ...synthetic,
      name: z.literal('sine'),
      min: z.number().default(-Math.PI),
      max: z.number().default(Math.PI),
      frequency: z.number().default(1),
      amplitude: z.number().default(1),
    })
    .strict(),
  /** Two interleaved Archimedean spirals of `turns` turns, one class each. */
  z
    .object({
      ...synthetic,
      name: z.literal('spirals'),
      turns: z.number().min(0.25).max(10).default(1.5),
      task: syntheticTask,
    })
    .strict(),
  /** `centers` Gaussian blobs in `features` dimensions, centres uniform in [-5, 5]^features. */
  z
    .object({
      ...synthetic,
      name: z.literal('blobs'),
      centers: z.number().int().min(2).max(256).default(3),
      features: z.number().int().min(1).max(1024).default(2),
      spread: z.number().min(0).max(100).default(1),
      task: syntheticTask,
    })
    .strict()
    // n x features float32 values are allocated at once: refuse what cannot fit instead of a RangeError
    .superRefine((s, ctx) => {
      if (s.n * s.features > MAX_SYNTHETIC_VALUES) {
        ctx.addIssue({
          code: 'custom',
          path: ['n'],
          message: `${s.n} rows x ${s.features} features are more than ${MAX_SYNTHETIC_VALUES} values`,
        });
      }
    }),
  /** Two concentric circles, radii 1 and `factor`; class 0 outer, class 1 inner. */
  z
    .object({
      ...synthetic,
      name: z.literal('circles'),
      factor: z.number().gt(0).lt(1).default(0.5),
      task: syntheticTask,
    })
    .strict(),
]);

export const CsvSourceSchema = z
  .object({
    type: z.literal('csv'),
    path,
    delimiter: z.string().length(1, 'must be one character').default(','),
    /** Target column(s) by header name; every other column is a numeric feature. */
    labelColumns: z.array(z.string().min(1)).min(1, 'must name at least one column'),
    task,
    /** Fix the class order (classification); default: sorted (numerically when all are numbers). */
    classes: classList.optional(),
  })
  .strict();

export const IdxSourceSchema = z
  .object({
    type: z.literal('idx'),
    /** IDX file of the inputs, raw or gzip (detected by its magic bytes). */
    images: path,
    /** IDX file of the integer labels (1-D), raw or gzip. */
    labels: path,
    /** Names of the classes by label value; default '0'..String(max label). */
    classes: classList.optional(),
  })
  .strict();

export const JsonSourceSchema = z
  .object({
    type: z.literal('json'),
    path,
    /** json: an array of records, or {"x": number[][], "y": [...]}; ndjson: one record per line. */
    format: z.enum(['json', 'ndjson']).default('json'),
    /** Target field(s) of each record; not needed for the {x, y} form (defaults to ["y"]). */
    labelColumns: z.array(z.string().min(1)).min(1).optional(),
    task,
    classes: classList.optional(),
  })
  .strict();

export const FashionMnistSourceSchema = z
  .object({
    type: z.literal('fashion-mnist'),
    /** Directory holding the four IDX files (Debian: dataset-fashion-mnist). */
    dir: path.default(FASHION_MNIST_DIR),
    /** all: 60,000 train rows then the 10,000 official test rows (which become the test split). */
    split: z.enum(['all', 'train', 'test']).default('all'),
  })
  .strict();

export const DatasetSourceSchema = z.discriminatedUnion('type', [
  SyntheticSourceSchema,
  CsvSourceSchema,
  IdxSourceSchema,
  JsonSourceSchema,
  FashionMnistSourceSchema,
]);

export type DatasetSourceInput = z.input<typeof DatasetSourceSchema>;
export type DatasetSource = z.output<typeof DatasetSourceSchema>;
export type SyntheticSource = z.output<typeof SyntheticSourceSchema>;
export type CsvSource = z.output<typeof CsvSourceSchema>;
export type IdxSource = z.output<typeof IdxSourceSchema>;
export type JsonSource = z.output<typeof JsonSourceSchema>;
export type FashionMnistSource = z.output<typeof FashionMnistSourceSchema>;

/**
 * Where a dataset registered by upload (POST /datasets) came from: the bytes themselves, not a
 * path. Recorded in the dataset's meta; a run config names such a dataset by its id.
 */
export interface UploadSource {
  type: 'upload';
  format: 'csv' | 'json' | 'ndjson';
  /** sha256 hex of the uploaded text (UTF-8). */
  sha256: string;
  bytes: number;
}

/** Validate unknown JSON as a dataset source; throws SourceError naming every problem by path. */
export function parseSource(json: unknown): DatasetSource {
  const result = DatasetSourceSchema.safeParse(json);
  if (!result.success) throw new SourceError(formatIssues(result.error.issues));
  return result.data;
}

/** The real-data example: Fashion-MNIST from Debian's `dataset-fashion-mnist` package. */
export function fashionMnistSource(options: Partial<Omit<FashionMnistSource, 'type'>> = {}): FashionMnistSource {
  return parseSource({ type: 'fashion-mnist', ...options }) as FashionMnistSource;
}

/** The same source with every file path made absolute (so every worker resolves it alike). */
export function absoluteSource(source: DatasetSource, cwd = process.cwd()): DatasetSource {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(cwd, p));
  switch (source.type) {
    case 'csv':
    case 'json':
      return { ...source, path: abs(source.path) };
    case 'idx':
      return { ...source, images: abs(source.images), labels: abs(source.labels) };
    case 'fashion-mnist':
      return { ...source, dir: abs(source.dir) };
    default:
      return source;
  }
}

/** JSON Schema (draft 2020-12) of the dataset source, for editors and other languages. */
export function datasetSourceJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(DatasetSourceSchema, { io: 'input' }) as Record<string, unknown>;
}

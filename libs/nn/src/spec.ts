import { z } from 'zod';
import { inferShapes } from './layer-shapes';
import { formatIssues, ProblemsError } from '@nnq/problems';
import { formatShape, shapeSize, type Shape } from './shapes';

/**
 * Network spec: plain JSON describing a feed-forward network.
 *
 * Layers are numbered as in the lecture: h(0) is the input, layers are 1..L (pooling and flatten
 * layers count too), h(L) is the output. Dense layer n computes h(n) = f(n)(W(n)^T x(n) + b(n))
 * where x(n) is h(n-1), or, when a skip connection ends at n, h(n-1) concatenated with / added to
 * h(from). Kernel W(n) has shape [fanIn, units] (Keras' `kernel`), stored row-major.
 * conv2d, maxPool2d, avgPool2d and flatten take a 3-D input [height, width, channels] (Keras words
 * and shape rules: shapes.ts); the output layer is dense.
 */

export const ACTIVATIONS = [
  'identity',
  'relu',
  'leaky_relu',
  'elu',
  'sigmoid',
  'tanh',
  'softplus',
  'gelu',
  'softmax',
] as const;
export type Activation = (typeof ACTIVATIONS)[number];

export const LOSSES = ['sum_of_squares', 'mse', 'softmax_cross_entropy', 'sigmoid_binary_cross_entropy'] as const;
export type Loss = (typeof LOSSES)[number];

/** Fixed slopes of the parametrised activations (not configurable, so the wire format stays simple). */
export const LEAKY_RELU_ALPHA = 0.01;
export const ELU_ALPHA = 1.0;

/**
 * Most parameters a network may have: the parameters and every shard gradient travel as single
 * Redis strings (at most 512 MB); 2^26 float32 are 256 MB.
 */
export const MAX_PARAMS = 1 << 26;

const positiveInt = z
  .number()
  .int('must be an integer')
  .min(1, 'must be at least 1')
  .max(1 << 20, 'must be at most 1048576');

export const DenseLayerSchema = z
  .object({
    /** Optional: a layer without `kind` is dense (every spec written before conv layers existed). */
    kind: z.literal('dense').optional(),
    units: positiveInt,
    activation: z.enum(ACTIVATIONS),
    useBias: z.boolean().default(true),
    /** Optional connection mask [fanIn][units] of 0/1: a 0 removes the connection for good. */
    mask: z.array(z.array(z.union([z.literal(0), z.literal(1)], { error: 'must be 0 or 1' }))).optional(),
  })
  .strict();

/** Window sides (kernel, pool, strides) are bounded like the input's sides. */
const side = positiveInt;
const sides = z.union([side, z.tuple([side, side])], {
  error: 'must be a positive integer n (n x n) or [height, width]',
});
const padding = z.enum(['valid', 'same']);

/** Only dense layers take a mask: a conv layer's connections are fixed by its kernel window. */
const noMask = (what: string) => (issue: z.core.$ZodRawIssue) =>
  issue.code === 'unrecognized_keys' && (issue.keys as string[]).includes('mask')
    ? `a mask applies to dense layers only, not to ${what} (its connections are its window)`
    : undefined;

/** h(n) = f(conv(x(n), kernel) + bias), kernel [kh, kw, cin, filters] (Keras HWIO). */
export const Conv2dLayerSchema = z.strictObject(
  {
    kind: z.literal('conv2d'),
    filters: positiveInt,
    kernelSize: sides,
    /** Default 1. */
    strides: sides.optional(),
    padding: padding.default('valid'),
    activation: z.enum(ACTIVATIONS),
    useBias: z.boolean().default(true),
  },
  { error: noMask('conv2d') },
);

/** Max or average over each window of each channel; no parameters. */
export const Pool2dLayerSchema = z.strictObject(
  {
    kind: z.enum(['maxPool2d', 'avgPool2d']),
    poolSize: sides,
    /** Default poolSize. */
    strides: sides.optional(),
    padding: padding.default('valid'),
  },
  { error: noMask('pooling') },
);

/** [h, w, c] -> [h * w * c] in NHWC order (the stored order already): no parameters. */
export const FlattenLayerSchema = z.strictObject({ kind: z.literal('flatten') }, { error: noMask('flatten') });

export const LAYER_KINDS = ['dense', 'conv2d', 'maxPool2d', 'avgPool2d', 'flatten'] as const;
export type LayerKind = (typeof LAYER_KINDS)[number];

export const LayerSchema = z.discriminatedUnion(
  'kind',
  [DenseLayerSchema, Conv2dLayerSchema, Pool2dLayerSchema, FlattenLayerSchema],
  {
    error: (issue) =>
      issue.code === 'invalid_union' ? `kind must be one of ${LAYER_KINDS.join(', ')} (absent: dense)` : undefined,
  },
);

export const SkipSchema = z
  .object({
    /** Source layer index (0 = input). */
    from: z.number().int('must be an integer').min(0, 'must be at least 0'),
    /** Target layer index; the lecture's skip goes from n to n+2. */
    to: z.number().int('must be an integer').min(2, 'must be at least 2'),
    /**
     * concat: x(to) = [h(to-1), h(from)] (1-D sources into a dense layer);
     * add: x(to) = h(to-1) + h(from) (equal shapes).
     */
    mode: z.enum(['concat', 'add']),
  })
  .strict();

const NetworkSpecBase = z
  .object({
    /** Features per sample (1-D input); give this or inputShape. */
    inputSize: positiveInt.optional(),
    /** [height, width, channels] (channels last) of an image input; give this or inputSize. */
    inputShape: z.tuple([positiveInt, positiveInt, positiveInt]).optional(),
    layers: z.array(LayerSchema).min(1, 'must hold at least one dense layer').max(64, 'must hold at most 64 layers'),
    skips: z.array(SkipSchema).default([]),
    loss: z.enum(LOSSES),
  })
  .strict();

/** Most input values per sample (inputSize, or the product of inputShape). */
const MAX_INPUT = 1 << 20;

export const NetworkSpecSchema = NetworkSpecBase.superRefine((spec, ctx) => {
  const problem = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  const L = spec.layers.length;
  if (L === 0) return; // already reported by layers.min; the checks below need an output layer
  const input = inputShapeOf(spec);
  if (typeof input === 'string') return problem(['inputSize'], input);
  const skipInto = new Map<number, number>();
  spec.skips.forEach((s, i) => {
    if (s.to > L) return problem(['skips', i, 'to'], `skip to missing layer ${s.to} (the network has layers 1..${L})`);
    if (s.to !== s.from + 2) {
      return problem(['skips', i, 'to'], `skip must go from layer n to n+2 (got from ${s.from} to ${s.to})`);
    }
    if (skipInto.has(s.to))
      return problem(['skips', i, 'to'], `layer ${s.to} already receives skip ${skipInto.get(s.to)}`);
    skipInto.set(s.to, i);
  });
  spec.layers.forEach((layer, k) => {
    if ('activation' in layer && layer.activation === 'softmax' && k + 1 !== L) {
      problem(['layers', k, 'activation'], 'softmax is allowed on the output layer only');
    }
  });
  const out = spec.layers[L - 1];
  if (!isDense(out)) {
    return problem(['layers', L - 1, 'kind'], `the output layer must be dense (got ${out.kind}); flatten, then dense`);
  }
  const skips = spec.skips.filter((s, i) => skipInto.get(s.to) === i);
  const inferred = inferShapes(input, spec.layers, skips);
  for (const p of inferred.problems) problem(p.path, p.message);
  if (inferred.problems.length > 0) return;
  // kernels and biases of every layer (the flat layout of layout.ts), counted before anything is allocated
  const params = inferred.layers.reduce((sum, l) => sum + l.params, 0);
  if (params > MAX_PARAMS) {
    problem(['layers'], `the network has ${params} parameters, at most ${MAX_PARAMS} are allowed`);
  }
  if (spec.loss === 'softmax_cross_entropy' && out.activation !== 'softmax') {
    problem(
      ['layers', L - 1, 'activation'],
      `softmax_cross_entropy needs a softmax output layer (got ${out.activation})`,
    );
  }
  if (spec.loss === 'sigmoid_binary_cross_entropy' && out.activation !== 'sigmoid') {
    problem(
      ['layers', L - 1, 'activation'],
      `sigmoid_binary_cross_entropy needs a sigmoid output layer (got ${out.activation})`,
    );
  }
}).transform((spec) => ({ ...spec, inputSize: spec.inputSize ?? shapeSize(spec.inputShape!) }));

/** The input shape of a spec: inputShape, or [inputSize]; a message when neither or two that differ. */
function inputShapeOf(spec: { inputSize?: number; inputShape?: [number, number, number] }): Shape | string {
  const { inputSize, inputShape } = spec;
  if (!inputShape)
    return inputSize === undefined ? 'give inputSize, or inputShape [height, width, channels]' : [inputSize];
  const size = shapeSize(inputShape);
  if (size > MAX_INPUT)
    return `inputShape ${formatShape(inputShape)} holds ${size} values, at most ${MAX_INPUT} are allowed`;
  // a parsed spec carries both (inputSize derived), so it parses again; they must agree
  if (inputSize !== undefined && inputSize !== size) {
    return `is ${inputSize}, inputShape ${formatShape(inputShape)} holds ${size} values (give one of them)`;
  }
  return inputShape;
}

export type NetworkSpecInput = z.input<typeof NetworkSpecSchema>;
export type NetworkSpec = z.output<typeof NetworkSpecSchema>;
export type DenseLayer = z.output<typeof DenseLayerSchema>;
export type Conv2dLayer = z.output<typeof Conv2dLayerSchema>;
export type Pool2dLayer = z.output<typeof Pool2dLayerSchema>;
export type FlattenLayer = z.output<typeof FlattenLayerSchema>;
export type Layer = z.output<typeof LayerSchema>;
export type Skip = z.output<typeof SkipSchema>;

/** A dense layer: `kind` "dense" or absent. */
export function isDense(layer: Layer): layer is DenseLayer {
  return layer.kind === undefined || layer.kind === 'dense';
}

/** The kind of a layer, "dense" when absent. */
export function layerKind(layer: Layer): LayerKind {
  return layer.kind ?? 'dense';
}

/** The activation f(n) of a layer: identity for pooling and flatten (h(n) = a(n)). */
export function activationOf(layer: Layer): Activation {
  return 'activation' in layer ? layer.activation : 'identity';
}

/** Units of the output layer h(L) (always dense): K, the width of the targets. */
export function outputUnits(spec: NetworkSpec): number {
  const out = spec.layers[spec.layers.length - 1];
  if (!isDense(out)) throw new RangeError(`the output layer must be dense (got ${out.kind})`);
  return out.units;
}

/** A network spec that does not validate; every problem by path. */
export class SpecError extends ProblemsError {
  constructor(problems: string[]) {
    super('invalid network spec', problems);
  }
}

/** Validate unknown JSON as a network spec; throws SpecError listing every problem by path. */
export function parseSpec(json: unknown): NetworkSpec {
  const result = NetworkSpecSchema.safeParse(json);
  if (!result.success) throw new SpecError(formatIssues(result.error.issues));
  return result.data;
}

/** JSON Schema (draft 2020-12) of the network spec, for editors and other languages. */
export function networkSpecJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(NetworkSpecBase, { io: 'input' }) as Record<string, unknown>;
}

import { z } from 'zod';
import { formatIssues, ProblemsError } from './problems';

/**
 * Network spec: plain JSON describing a feed-forward network.
 *
 * Layers are numbered as in the lecture: h(0) is the input, dense layers are 1..L, h(L) is the
 * output. Dense layer n computes h(n) = f(n)(W(n)^T x(n) + b(n)) where x(n) is h(n-1), or, when a
 * skip connection ends at n, h(n-1) concatenated with / added to h(from).
 * Kernel W(n) has shape [fanIn, units] (Keras' `kernel`), stored row-major.
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
    units: positiveInt,
    activation: z.enum(ACTIVATIONS),
    useBias: z.boolean().default(true),
    /** Optional connection mask [fanIn][units] of 0/1: a 0 removes the connection for good. */
    mask: z.array(z.array(z.union([z.literal(0), z.literal(1)], { error: 'must be 0 or 1' }))).optional(),
  })
  .strict();

export const SkipSchema = z
  .object({
    /** Source layer index (0 = input). */
    from: z.number().int('must be an integer').min(0, 'must be at least 0'),
    /** Target dense layer index; the lecture's skip goes from n to n+2. */
    to: z.number().int('must be an integer').min(2, 'must be at least 2'),
    /** concat: x(to) = [h(to-1), h(from)]; add: x(to) = h(to-1) + h(from) (equal sizes). */
    mode: z.enum(['concat', 'add']),
  })
  .strict();

const NetworkSpecBase = z
  .object({
    inputSize: positiveInt,
    layers: z
      .array(DenseLayerSchema)
      .min(1, 'must hold at least one dense layer')
      .max(64, 'must hold at most 64 layers'),
    skips: z.array(SkipSchema).default([]),
    loss: z.enum(LOSSES),
  })
  .strict();

export const NetworkSpecSchema = NetworkSpecBase.superRefine((spec, ctx) => {
  const L = spec.layers.length;
  if (L === 0) return; // already reported by layers.min; the checks below need an output layer
  const sizes = [spec.inputSize, ...spec.layers.map((l) => l.units)];
  const skipInto = new Map<number, number>();
  spec.skips.forEach((s, i) => {
    if (s.to > L) {
      ctx.addIssue({
        code: 'custom',
        path: ['skips', i, 'to'],
        message: `skip to missing layer ${s.to} (the network has layers 1..${L})`,
      });
      return;
    }
    if (s.to !== s.from + 2) {
      ctx.addIssue({
        code: 'custom',
        path: ['skips', i, 'to'],
        message: `skip must go from layer n to n+2 (got from ${s.from} to ${s.to})`,
      });
      return;
    }
    if (skipInto.has(s.to)) {
      ctx.addIssue({
        code: 'custom',
        path: ['skips', i, 'to'],
        message: `layer ${s.to} already receives skip ${skipInto.get(s.to)}`,
      });
      return;
    }
    skipInto.set(s.to, i);
    // an add skip sums h(from) into the input of layer `to`, which is h(to - 1)
    const into = s.to - 1;
    if (s.mode === 'add' && sizes[s.from] !== sizes[into]) {
      ctx.addIssue({
        code: 'custom',
        path: ['skips', i, 'mode'],
        message: `add needs equal sizes: h(${s.from}) has ${sizes[s.from]} units, h(${into}) has ${sizes[into]}`,
      });
    }
  });
  spec.layers.forEach((layer, k) => {
    const n = k + 1;
    if (layer.activation === 'softmax' && n !== L) {
      ctx.addIssue({
        code: 'custom',
        path: ['layers', k, 'activation'],
        message: 'softmax is allowed on the output layer only',
      });
    }
    if (layer.mask) {
      const skip = spec.skips.find((s) => s.to === n);
      const fanIn = sizes[n - 1] + (skip && skip.mode === 'concat' && skip.from <= L ? sizes[skip.from] : 0);
      if (layer.mask.length !== fanIn || layer.mask.some((row) => row.length !== layer.units)) {
        ctx.addIssue({
          code: 'custom',
          path: ['layers', k, 'mask'],
          message: `mask must have shape [${fanIn}][${layer.units}] (fanIn x units)`,
        });
      }
    }
  });
  // fanIn x units kernel plus units biases per layer (the flat layout of layout.ts)
  const params = spec.layers.reduce((sum, layer, k) => {
    const skip = spec.skips.find((s) => s.to === k + 1 && s.mode === 'concat' && s.from <= L);
    const fanIn = sizes[k] + (skip ? sizes[skip.from] : 0);
    return sum + fanIn * layer.units + (layer.useBias ? layer.units : 0);
  }, 0);
  if (params > MAX_PARAMS) {
    ctx.addIssue({
      code: 'custom',
      path: ['layers'],
      message: `the network has ${params} parameters, at most ${MAX_PARAMS} are allowed`,
    });
  }
  const out = spec.layers[L - 1].activation;
  if (spec.loss === 'softmax_cross_entropy' && out !== 'softmax') {
    ctx.addIssue({
      code: 'custom',
      path: ['layers', L - 1, 'activation'],
      message: `softmax_cross_entropy needs a softmax output layer (got ${out})`,
    });
  }
  if (spec.loss === 'sigmoid_binary_cross_entropy' && out !== 'sigmoid') {
    ctx.addIssue({
      code: 'custom',
      path: ['layers', L - 1, 'activation'],
      message: `sigmoid_binary_cross_entropy needs a sigmoid output layer (got ${out})`,
    });
  }
});

export type NetworkSpecInput = z.input<typeof NetworkSpecSchema>;
export type NetworkSpec = z.output<typeof NetworkSpecSchema>;
export type DenseLayer = z.output<typeof DenseLayerSchema>;
export type Skip = z.output<typeof SkipSchema>;

/** Render zod issues as `path: message` lines, e.g. `layers[1].units: must be at least 1`. */
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

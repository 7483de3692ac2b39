import { describe, expect, it } from 'vitest';
import { paramLayout } from './layout';
import { modelSummary } from './model-summary';
import { MAX_PARAMS, parseSpec, SpecError, type NetworkSpecInput } from './spec';

/** The Fashion-MNIST CNN: conv 32 3x3 same, pool 2, conv 64 3x3 same, pool 2, dense 128, 10. */
const FASHION_CNN: NetworkSpecInput = {
  inputShape: [28, 28, 1],
  layers: [
    { kind: 'conv2d', filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' },
    { kind: 'maxPool2d', poolSize: 2 },
    { kind: 'conv2d', filters: 64, kernelSize: [3, 3], padding: 'same', activation: 'relu' },
    { kind: 'maxPool2d', poolSize: 2 },
    { kind: 'flatten' },
    { units: 128, activation: 'relu' },
    { kind: 'dense', units: 10, activation: 'softmax' },
  ],
  loss: 'softmax_cross_entropy',
};

describe('CNN specs: shapes and layout', () => {
  it("infers Keras' output shapes and parameter counts for the Fashion-MNIST CNN", () => {
    const spec = parseSpec(FASHION_CNN);
    expect(spec.inputSize).toBe(784);
    // Keras model.summary() of the same model: 320, 0, 18496, 0, 0, 401536, 1290
    expect(modelSummary(spec)).toEqual([
      { index: 0, kind: 'input', outputShape: [28, 28, 1], params: 0 },
      { index: 1, kind: 'conv2d', outputShape: [28, 28, 32], params: 320 },
      { index: 2, kind: 'maxPool2d', outputShape: [14, 14, 32], params: 0 },
      { index: 3, kind: 'conv2d', outputShape: [14, 14, 64], params: 18496 },
      { index: 4, kind: 'maxPool2d', outputShape: [7, 7, 64], params: 0 },
      { index: 5, kind: 'flatten', outputShape: [3136], params: 0 },
      { index: 6, kind: 'dense', outputShape: [128], params: 401536 },
      { index: 7, kind: 'dense', outputShape: [10], params: 1290 },
    ]);
    const layout = paramLayout(spec);
    expect(layout.size).toBe(320 + 18496 + 401536 + 1290);
    expect(layout.widths).toEqual([784, 25088, 6272, 12544, 3136, 3136, 128, 10]);
    // conv kernel [3, 3, 1, 32] as a dense kernel of 9 rows, then the bias; pools hold nothing
    expect(layout.layers[0]).toMatchObject({ kind: 'conv2d', fanIn: 9, units: 32, kernelOffset: 0, kernelSize: 288 });
    expect(layout.layers[0].biasOffset).toBe(288);
    expect(layout.layers[1]).toMatchObject({ kind: 'maxPool2d', kernelSize: 0, biasOffset: -1, biasSize: 0 });
    expect(layout.layers[2]).toMatchObject({ fanIn: 9 * 32, units: 64, kernelOffset: 320 });
  });

  it.each<[string, number, number, number, 'valid' | 'same', number, number]>([
    // n, k, s, padding -> out, padding before (TensorFlow's rules)
    ['valid 5/3/1', 5, 3, 1, 'valid', 3, 0],
    ['valid 7/3/2', 7, 3, 2, 'valid', 3, 0],
    ['valid 6/3/2 (floor)', 6, 3, 2, 'valid', 2, 0],
    ['same 5/3/1', 5, 3, 1, 'same', 5, 1],
    ['same 5/3/2', 5, 3, 2, 'same', 3, 1],
    ['same 6/3/2 (total 1: after only)', 6, 3, 2, 'same', 3, 0],
    ['same 4/4/1 (total 3: 1 before, 2 after)', 4, 4, 1, 'same', 4, 1],
    ['same 1/3/1', 1, 3, 1, 'same', 1, 1],
  ])('%s', (_name, n, k, s, padding, out, before) => {
    const spec = parseSpec({
      inputShape: [n, 2, 1],
      layers: [
        { kind: 'conv2d', filters: 1, kernelSize: [k, 1], strides: [s, 1], padding, activation: 'relu' },
        { kind: 'flatten' },
        { units: 1, activation: 'identity' },
      ],
      loss: 'mse',
    });
    const w = paramLayout(spec).layers[0].window!;
    expect([w.outH, w.padTop, w.outW, w.padLeft]).toEqual([out, before, 2, 0]);
  });

  it('pools stride by their size unless told, and keep the channels', () => {
    const spec = parseSpec({
      inputShape: [7, 5, 3],
      layers: [
        { kind: 'avgPool2d', poolSize: [2, 3], padding: 'same' },
        { kind: 'maxPool2d', poolSize: 2, strides: 1 },
        { kind: 'flatten' },
        { units: 2, activation: 'sigmoid' },
      ],
      loss: 'sigmoid_binary_cross_entropy',
    });
    expect(paramLayout(spec).shapes).toEqual([[7, 5, 3], [4, 2, 3], [3, 1, 3], [9], [2]]);
  });

  it('parses its own output again (a parsed spec carries inputSize beside inputShape)', () => {
    const spec = parseSpec(FASHION_CNN);
    expect(parseSpec(JSON.parse(JSON.stringify(spec)))).toEqual(spec);
  });

  it('keeps a dense spec as it was: no kind, no inputShape', () => {
    const spec = parseSpec({ inputSize: 2, layers: [{ units: 1, activation: 'identity' }], loss: 'mse' });
    expect(spec).toEqual({
      inputSize: 2,
      layers: [{ units: 1, activation: 'identity', useBias: true }],
      skips: [],
      loss: 'mse',
    });
  });
});

describe('CNN specs: every misfit is refused with the layer path and the shapes', () => {
  const conv = (more: object = {}) => ({ kind: 'conv2d', filters: 2, kernelSize: 3, activation: 'relu', ...more });
  const head = [{ kind: 'flatten' }, { units: 2, activation: 'identity' }];
  const cnn = (layers: object[], more: object = {}) => ({ inputShape: [5, 5, 1], layers, loss: 'mse', ...more });
  it.each<[string, unknown, RegExp]>([
    [
      'a kernel larger than its input',
      cnn([conv({ kernelSize: [6, 2] }), ...head]),
      new RegExp(
        String.raw`^layers\[0\]\.kernelSize: conv2d window 6x2 is larger than its input h\(0\) 5x5x1 ` +
          String.raw`\(padding valid\): the output would have 0x4 cells$`,
      ),
    ],
    [
      'a pool window that leaves nothing',
      cnn([conv(), { kind: 'maxPool2d', poolSize: 4 }, ...head]),
      /^layers\[1\]\.poolSize: maxPool2d window 4x4 is larger than its input h\(1\) 3x3x2 \(padding valid\)/,
    ],
    [
      'a dense layer after a 3-D output',
      cnn([conv(), { units: 2, activation: 'identity' }]),
      /^layers\[1\]: dense needs a 1-D input, h\(1\) is 3x3x2: add a flatten layer before it$/,
    ],
    [
      'a conv layer after a 1-D output',
      { inputSize: 25, layers: [conv(), ...head], loss: 'mse' },
      /^layers\[0\]: conv2d needs a 3-D input \[height, width, channels\], h\(0\) is \[25\] \(give inputShape\)$/,
    ],
    [
      'a mask on a conv layer',
      cnn([conv({ mask: [[1]] }), ...head]),
      /^layers\[0\]: a mask applies to dense layers only, not to conv2d/,
    ],
    [
      'an add skip between different shapes',
      cnn([conv({ padding: 'same' }), conv({ padding: 'same' }), ...head], {
        skips: [{ from: 0, to: 2, mode: 'add' }],
      }),
      /^skips\[0\]\.mode: add needs equal shapes: h\(0\) is 5x5x1, h\(1\) is 5x5x2$/,
    ],
    [
      'a concat skip into a conv layer',
      cnn([conv({ padding: 'same' }), conv(), ...head], { skips: [{ from: 0, to: 2, mode: 'concat' }] }),
      /^skips\[0\]\.mode: concat skips go into dense layers only \(layer 2 is conv2d\)$/,
    ],
    [
      'a concat skip from a 3-D output',
      cnn([conv(), { kind: 'flatten' }, { units: 2, activation: 'identity' }], {
        skips: [{ from: 1, to: 3, mode: 'concat' }],
      }),
      /^skips\[0\]\.mode: concat needs a 1-D source: h\(1\) is 3x3x2 \(flatten it first\)$/,
    ],
    [
      'a conv output layer',
      cnn([conv()]),
      /^layers\[0\]\.kind: the output layer must be dense \(got conv2d\); flatten, then dense$/,
    ],
    ['an unknown kind', cnn([{ kind: 'lstm' }, ...head]), /^layers\[0\]\.kind: kind must be one of dense, conv2d/],
    ['a zero stride', cnn([conv({ strides: [1, 0] }), ...head]), /^layers\[0\]\.strides\[1\]: must be at least 1$/],
    ['an unknown padding', cnn([conv({ padding: 'full' }), ...head]), /^layers\[0\]\.padding: Invalid option/],
    [
      'both inputSize and inputShape, different',
      cnn([conv(), ...head], { inputSize: 24 }),
      /^inputSize: is 24, inputShape 5x5x1 holds 25 values \(give one of them\)$/,
    ],
    [
      'an input over 2^20 values',
      cnn([conv(), ...head], { inputShape: [1024, 1024, 3] }),
      /^inputSize: inputShape 1024x1024x3 holds 3145728 values, at most 1048576 are allowed$/,
    ],
    [
      'a layer output over 2^22 values',
      cnn([conv({ filters: 1 << 20, padding: 'same' }), ...head]),
      /^layers\[0\]: h\(1\) 5x5x1048576 holds 26214400 values per sample, at most 4194304 are allowed$/,
    ],
    [
      'more than 2^26 parameters (counted from the shapes)',
      {
        inputShape: [64, 64, 1],
        layers: [conv({ filters: 64, padding: 'same' }), { kind: 'flatten' }, { units: 300, activation: 'relu' }],
        loss: 'mse',
      },
      new RegExp(`^layers: the network has ${640 + 64 * 64 * 64 * 300 + 300} parameters, at most ${MAX_PARAMS}`),
    ],
  ])('refuses %s', (_name, json, message) => {
    let err: unknown;
    try {
      parseSpec(json);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SpecError);
    expect((err as SpecError).problems[0]).toMatch(message);
  });
});

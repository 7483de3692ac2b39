import { describe, expect, it } from 'vitest';
import { paramLayout } from './layout';
import { parseSpec, SpecError } from './spec';
import { XOR_SPEC } from '../../../test/support/xor';

describe('spec', () => {
  it('lays out the XOR network', () => {
    const spec = parseSpec(XOR_SPEC);
    expect(paramLayout(spec).size).toBe(9);
  });
  it('names the field of a bad spec', () => {
    expect(() => parseSpec({ inputSize: 2, layers: [{ units: 0, activation: 'relu' }], loss: 'mse' })).toThrow(
      /layers\[0\]\.units: must be at least 1/,
    );
  });
});

describe('spec: every malformed spec is refused, naming the field', () => {
  const relu2 = { units: 2, activation: 'relu' };
  const out1 = { units: 1, activation: 'identity' };
  const ok = { inputSize: 2, layers: [relu2, out1], loss: 'mse' };
  it.each<[string, unknown, RegExp]>([
    ['a number', 42, /\(root\): Invalid input: expected object, received number/],
    ['null', null, /\(root\): Invalid input: expected object, received null/],
    ['an array', [], /\(root\): Invalid input: expected object, received array/],
    ['a missing inputSize', { layers: [out1], loss: 'mse' }, /inputSize: give inputSize, or inputShape \[height/],
    ['zero inputs', { ...ok, inputSize: 0 }, /inputSize: must be at least 1/],
    [
      'an unknown activation',
      { ...ok, layers: [{ units: 2, activation: 'swish' }] },
      /layers\[0\]\.activation: Invalid option: expected one of "identity"/,
    ],
    [
      'zero units',
      { ...ok, layers: [{ units: 0, activation: 'relu' }, out1] },
      /layers\[0\]\.units: must be at least 1/,
    ],
    [
      'fractional units',
      { ...ok, layers: [relu2, { units: 1.5, activation: 'identity' }] },
      /layers\[1\]\.units: must be an integer/,
    ],
    ['no layers', { ...ok, layers: [] }, /layers: must hold at least one dense layer/],
    [
      'a mask of the wrong shape',
      { ...ok, layers: [{ ...relu2, mask: [[1, 1]] }, out1] },
      /layers\[0\]\.mask: mask must have shape \[2\]\[2\] \(fanIn x units\)/,
    ],
    [
      'a mask with a 2',
      {
        ...ok,
        layers: [
          {
            ...relu2,
            mask: [
              [1, 2],
              [1, 1],
            ],
          },
          out1,
        ],
      },
      /layers\[0\]\.mask\[0\]\[1\]: must be 0 or 1/,
    ],
    [
      'a concat mask without the skip rows',
      { ...ok, layers: [relu2, { ...out1, mask: [[1], [1]] }], skips: [{ from: 0, to: 2, mode: 'concat' }] },
      /layers\[1\]\.mask: mask must have shape \[4\]\[1\]/,
    ],
    [
      'a skip to a missing layer',
      { ...ok, skips: [{ from: 1, to: 3, mode: 'concat' }] },
      /skips\[0\]\.to: skip to missing layer 3 \(the network has layers 1\.\.2\)/,
    ],
    [
      'a skip that is not n to n+2',
      { ...ok, layers: [relu2, relu2, out1], skips: [{ from: 0, to: 3, mode: 'add' }] },
      /skips\[0\]\.to: skip must go from layer n to n\+2/,
    ],
    [
      'two skips into one layer',
      {
        ...ok,
        skips: [
          { from: 0, to: 2, mode: 'concat' },
          { from: 0, to: 2, mode: 'add' },
        ],
      },
      /skips\[1\]\.to: layer 2 already receives skip 0/,
    ],
    ['an unknown skip mode', { ...ok, skips: [{ from: 0, to: 2, mode: 'mul' }] }, /skips\[0\]\.mode: Invalid option/],
    [
      'an add skip of unequal sizes',
      { ...ok, inputSize: 3, skips: [{ from: 0, to: 2, mode: 'add' }] },
      /skips\[0\]\.mode: add needs equal sizes: h\(0\) has 3 units, h\(1\) has 2/,
    ],
    [
      'softmax on a hidden layer',
      { ...ok, layers: [{ units: 2, activation: 'softmax' }, out1] },
      /layers\[0\]\.activation: softmax is allowed on the output layer only/,
    ],
    [
      'cross entropy without softmax',
      { ...ok, loss: 'softmax_cross_entropy' },
      /layers\[1\]\.activation: softmax_cross_entropy needs a softmax output layer \(got identity\)/,
    ],
    [
      'binary cross entropy without sigmoid',
      { ...ok, loss: 'sigmoid_binary_cross_entropy' },
      /layers\[1\]\.activation: sigmoid_binary_cross_entropy needs a sigmoid output layer/,
    ],
    ['an unknown loss', { ...ok, loss: 'hinge' }, /loss: Invalid option: expected one of "sum_of_squares"/],
    ['an unknown key', { ...ok, optimizer: 'sgd' }, /\(root\): Unrecognized key: "optimizer"/],
    [
      'an unknown layer key',
      { ...ok, layers: [{ ...relu2, kernelInitializer: 'zeros' }, out1] },
      /layers\[0\]: Unrecognized key: "kernelInitializer"/,
    ],
    [
      'more than 2^26 parameters',
      { ...ok, layers: [{ ...relu2, units: 8192 }, { ...relu2, units: 8192 }, out1] },
      /layers: the network has 67149825 parameters, at most 67108864 are allowed/,
    ],
    [
      'a string useBias',
      { ...ok, layers: [{ ...relu2, useBias: 'yes' }, out1] },
      /layers\[0\]\.useBias: Invalid input: expected boolean/,
    ],
  ])('refuses %s', (_name, json, message) => {
    expect(() => parseSpec(json)).toThrow(SpecError);
    expect(() => parseSpec(json)).toThrow(message);
  });

  it('lists every problem at once', () => {
    const e = (() => {
      try {
        parseSpec({ inputSize: 0, layers: [{ units: 0, activation: 'softmax' }, out1], loss: 'nope' });
        return null;
      } catch (err) {
        return err as SpecError;
      }
    })();
    expect(e?.problems).toEqual([
      'inputSize: must be at least 1',
      'layers[0].units: must be at least 1',
      expect.stringMatching(/^loss: Invalid option/),
    ]);
  });
});

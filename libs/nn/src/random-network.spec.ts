import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cnnSpecArb, randomCase, specArb } from '../../../test/support/random-network';
import { paramLayout } from './layout';
import { ACTIVATIONS, activationOf, isDense, layerKind } from './spec';

describe('specArb: the random networks of the property tests (test/support/random-network.ts)', () => {
  it('gives every softmax layer at least 2 units (one unit is a constant with a zero gradient)', () => {
    const softmaxUnits = fc.sample(randomCase, { numRuns: 500, seed: 3 }).flatMap(({ spec }) =>
      spec.layers
        .filter(isDense)
        .filter((l) => l.activation === 'softmax')
        .map((l) => l.units),
    );
    expect(softmaxUnits.length).toBeGreaterThan(50);
    expect(Math.min(...softmaxUnits)).toBeGreaterThanOrEqual(2);
    expect(softmaxUnits).toContain(3);
  });

  it('covers every activation and loss, both skips and masks (the generator is not lopsided)', () => {
    const seen = new Set<string>();
    fc.sample(specArb, { numRuns: 300, seed: 1 }).forEach((s) => {
      s.layers.forEach((l) => seen.add(activationOf(l)));
      seen.add(s.loss);
      s.skips.forEach((k) => seen.add(k.mode));
      if (s.layers.some((l) => isDense(l) && l.mask)) seen.add('mask');
    });
    for (const k of [
      ...ACTIVATIONS,
      'sum_of_squares',
      'mse',
      'softmax_cross_entropy',
      'sigmoid_binary_cross_entropy',
    ]) {
      expect(seen).toContain(k);
    }
    expect(seen).toContain('concat');
    expect(seen).toContain('add');
    expect(seen).toContain('mask');
  });

  it('draws CNNs with every spatial kind, both paddings, strides, and both skips', () => {
    const seen = new Set<string>();
    fc.sample(cnnSpecArb, { numRuns: 300, seed: 2 }).forEach((s) => {
      for (const l of s.layers) {
        seen.add(layerKind(l));
        if ('padding' in l) seen.add(l.padding);
        if ('strides' in l && l.strides !== undefined) seen.add('strides');
      }
      s.skips.forEach((k) => seen.add(k.mode));
      // every draw parses and lays out: the generator never makes an invalid spec
      expect(paramLayout(s).widths[0]).toBe(s.inputSize);
    });
    for (const k of [
      'conv2d',
      'maxPool2d',
      'avgPool2d',
      'flatten',
      'dense',
      'valid',
      'same',
      'strides',
      'add',
      'concat',
    ]) {
      expect(seen).toContain(k);
    }
  });
});

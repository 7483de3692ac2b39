import { describe, expect, it } from 'vitest';
import {
  fitToWidth,
  formatBar,
  formatDuration,
  formatLoss,
  formatPercent,
  formatProgressLine,
  formatRate,
} from './progress';

describe('progress formatting', () => {
  it.each([
    [undefined, '-'],
    [NaN, '-'],
    [0.4, '0s'],
    [59.4, '59s'],
    [65, '1m05s'],
    [3599, '59m59s'],
    [7620, '2h07m'],
  ])('formatDuration(%s) = %s', (s, out) => expect(formatDuration(s)).toBe(out));

  it.each([
    [undefined, '-'],
    [0, '0'],
    [0.123456, '0.1235'],
    [12.5, '12.5'],
    [0.000123, '1.23e-4'],
    [NaN, 'NaN'],
    [Infinity, 'Infinity'],
  ])('formatLoss(%s) = %s', (x, out) => expect(formatLoss(x)).toBe(out));

  it.each([
    [undefined, '-'],
    [850.4, '850'],
    [12_345, '12.3k'],
    [1_200_000, '1.20M'],
  ])('formatRate(%s) = %s', (x, out) => expect(formatRate(x)).toBe(out));

  it('formats percentages and bars, clamping the fraction', () => {
    expect(formatPercent(0.9731)).toBe('97.3%');
    expect(formatBar(0.5, 10)).toBe('[#####.....]');
    expect(formatBar(2, 4)).toBe('[####]');
    expect(formatBar(NaN, 4)).toBe('[....]');
  });

  const snapshot = {
    state: 'running',
    step: 120,
    totalSteps: 400,
    epoch: 30,
    epochs: 100,
    loss: 0.01234,
    accuracy: 0.95,
    samplesPerSecond: 1234,
    etaSeconds: 12,
  };

  it('shows step, epoch, loss, accuracy, samples/s and ETA on one line', () => {
    expect(formatProgressLine(snapshot)).toBe(
      'step 120/400 (30%)  epoch 31/100  loss 0.01234  acc 95.0%  1.2k samples/s  ETA 12s',
    );
  });

  it('draws a bar when asked, drops accuracy for regression, names a final state instead of the ETA', () => {
    const line = formatProgressLine({ ...snapshot, state: 'completed', step: 400 }, { bar: 10, accuracy: false });
    expect(line).toBe('[##########] step 400/400 (100%)  epoch 31/100  loss 0.01234  1.2k samples/s  completed');
  });

  it('rounds fractional epochs up and never shows an epoch past the last', () => {
    expect(formatProgressLine({ ...snapshot, epoch: 2, epochs: 2.5 })).toMatch(/epoch 3\/3/);
    expect(formatProgressLine({ ...snapshot, epoch: 3, epochs: 2.5 })).toMatch(/epoch 3\/3/);
  });

  it('cuts a line to the terminal width', () => {
    expect(fitToWidth('x'.repeat(100), 40)).toHaveLength(39);
    expect(fitToWidth('short', 40)).toBe('short');
    expect(fitToWidth('x'.repeat(100), undefined)).toHaveLength(100);
  });
});

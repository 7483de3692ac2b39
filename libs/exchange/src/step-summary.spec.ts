import { describe, expect, it } from 'vitest';
import { decodeStepSummary, encodeStepSummary, summaryRecord } from './step-summary';

describe('step summaries', () => {
  it('keep every number bitwise, NaN and infinities included, and the non-finite cause', () => {
    const s = {
      loss: 0.1 + 0.2,
      accuracy: 1 / 3,
      lr: 1e-3,
      gradNorm: Infinity,
      rows: 1024,
      nonFinite: 'gradient' as const,
    };
    const back = decodeStepSummary(encodeStepSummary(s), 'k');
    expect(back).toEqual(s);
    const nan = decodeStepSummary(encodeStepSummary({ ...s, loss: NaN, nonFinite: undefined }), 'k');
    expect(nan.loss).toBeNaN();
    expect(nan).not.toHaveProperty('nonFinite');
  });

  it('refuse bytes that are no summary, naming where', () => {
    expect(() => decodeStepSummary(Buffer.alloc(7), 'run:1:replica-step:3')).toThrow(
      'run:1:replica-step:3: a step summary has 48 bytes, not 7',
    );
    const bad = encodeStepSummary({ loss: 1, accuracy: 1, lr: 1, gradNorm: 1, rows: 1 });
    bad.writeDoubleLE(7, 40);
    expect(() => decodeStepSummary(bad, 'k')).toThrow('k: unknown non-finite cause 7');
  });

  it('give the record updateStep gives: skipped when non-finite', () => {
    const at = { t: 4, epoch: 1 };
    const s = { loss: 0.5, accuracy: 0.25, lr: 0.01, gradNorm: 2, rows: 8 };
    expect(summaryRecord(s, at)).toEqual({ step: 4, epoch: 1, loss: 0.5, accuracy: 0.25, lr: 0.01, gradNorm: 2 });
    expect(summaryRecord({ ...s, loss: NaN, nonFinite: 'parameters' }, at)).toMatchObject({ skipped: true, step: 4 });
  });
});

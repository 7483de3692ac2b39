import { describe, expect, it } from 'vitest';
import { toChunk } from './dashboard-feed.service';

describe('toChunk', () => {
  it('keeps [step, loss, accuracy] of the steps that were applied, and every evaluation', () => {
    const step = { type: 'step' as const, epoch: 0, lr: 0.01, gradNorm: 1, seconds: 0.01 };
    const chunk = toChunk(
      'r1',
      [
        { ...step, step: 1, loss: 0.7, accuracy: 0.5 },
        { ...step, step: 2, loss: Number.NaN, accuracy: 0, skipped: true },
        { ...step, step: 3, loss: 0.6, accuracy: 0.625 },
        { type: 'evaluation', split: 'validation', step: 3, loss: 0.65, accuracy: 0.55, rows: 200 },
      ],
      false,
    );
    expect(chunk).toEqual({
      id: 'r1',
      reset: false,
      steps: [
        [1, 0.7, 0.5],
        [3, 0.6, 0.625],
      ],
      evals: [{ split: 'validation', step: 3, loss: 0.65, accuracy: 0.55 }],
    });
  });
});
